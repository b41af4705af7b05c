package config

import (
	"errors"
	"testing"
)

// TestMailSettings: with nothing set, mail goes to ./data/mail from no-reply at the
// issuer's host; a sender that is not one address stops start-up naming the variable.
func TestMailSettings(t *testing.T) {
	c, err := Load("", envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.SMTPURL != "" || c.MailDir != "./data/mail" || c.MailFrom != "Gatehouse <no-reply@localhost>" {
		t.Fatalf("mail defaults: smtp %q dir %q from %q", c.SMTPURL, c.MailDir, c.MailFrom)
	}
	c, err = Load("", envOf(map[string]string{"GATEHOUSE_ISSUER": "https://id.example.com:8443/",
		"GATEHOUSE_SMTP_URL": "smtps://u:p@mx.example.com"}))
	if err != nil || c.MailFrom != "Gatehouse <no-reply@id.example.com>" || c.SMTPURL != "smtps://u:p@mx.example.com" {
		t.Fatalf("from the issuer's host: %q, %v", c.MailFrom, err)
	}
	for _, v := range []string{"Acme <id@acme.example>", "id@acme.example"} {
		if c, err := Load("", envOf(map[string]string{"GATEHOUSE_MAIL_FROM": v})); err != nil || c.MailFrom != v {
			t.Errorf("GATEHOUSE_MAIL_FROM=%q: %q, %v", v, c.MailFrom, err)
		}
	}
	for _, v := range []string{"nobody", "a@example.com, b@example.com", "Acme <id@acme.example>\r\nBcc: x@y.z"} {
		_, err := Load("", envOf(map[string]string{"GATEHOUSE_MAIL_FROM": v}))
		var ce *Error
		if !errors.As(err, &ce) || ce.Variable != "GATEHOUSE_MAIL_FROM" {
			t.Errorf("GATEHOUSE_MAIL_FROM=%q: %v, want an error naming it", v, err)
		}
	}
	_, err = Load("", envOf(map[string]string{"GATEHOUSE_MAIL_DIR": ""}))
	var ce *Error
	if !errors.As(err, &ce) || ce.Variable != "GATEHOUSE_MAIL_DIR" {
		t.Errorf("no SMTP server and no mail directory: %v", err)
	}
	if _, err := Load("", envOf(map[string]string{"GATEHOUSE_MAIL_DIR": "", "GATEHOUSE_SMTP_URL": "smtp://mx"})); err != nil {
		t.Errorf("an SMTP server needs no mail directory: %v", err)
	}
}
