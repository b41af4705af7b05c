package domain_test

import (
	"errors"
	"testing"

	"gatehouse/domain"
)

func TestMail_Validate(t *testing.T) {
	ok := domain.Mail{Kind: "verify_email", To: "alice@example.com", Subject: "Verify your email", Text: "Open the link."}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid mail refused: %v", err)
	}
	bad := map[string]func(*domain.Mail){
		"no recipient":        func(m *domain.Mail) { m.To = "" },
		"two recipients":      func(m *domain.Mail) { m.To = "a@example.com, b@example.com" },
		"named recipient":     func(m *domain.Mail) { m.To = "Alice <alice@example.com>" },
		"header in recipient": func(m *domain.Mail) { m.To = "alice@example.com\r\nBcc: eve@example.com" },
		"header in subject":   func(m *domain.Mail) { m.Subject = "Hi\r\nBcc: eve@example.com" },
		"empty subject":       func(m *domain.Mail) { m.Subject = "" },
		"no body":             func(m *domain.Mail) { m.Text = "" },
		"no kind":             func(m *domain.Mail) { m.Kind = "" },
		"kind with a space":   func(m *domain.Mail) { m.Kind = "verify email" },
	}
	for name, change := range bad {
		m := ok
		change(&m)
		if err := m.Validate(); !errors.Is(err, domain.ErrBadMail) {
			t.Errorf("%s: got %v, want ErrBadMail", name, err)
		}
	}
}
