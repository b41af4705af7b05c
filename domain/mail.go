package domain

import (
	"errors"
	"fmt"
	"net/mail"
	"strings"
)

// Mail is one message Gatehouse sends to one person: a subject, a plain-text body and,
// when the message has one, an HTML body. Kind names what it is for (for example
// "verify_email"), for logs and metrics; it never holds the link or the address.
type Mail struct {
	Kind    string
	To      string
	Subject string
	Text    string
	HTML    string
}

// ErrBadMail is a mail Gatehouse must not send: it is a programming error of the
// caller, never the recipient's doing, since addresses are validated when stored.
var ErrBadMail = errors.New("bad mail")

// Validate refuses a mail without one plain recipient address, with a header that
// could smuggle another header (a line break), or without a body.
func (m Mail) Validate() error {
	addr, err := mail.ParseAddress(m.To)
	if err != nil || addr.Name != "" || addr.Address != m.To {
		return fmt.Errorf("%w: recipient is not one plain address", ErrBadMail)
	}
	if m.Subject == "" || strings.ContainsAny(m.Subject, "\r\n") {
		return fmt.Errorf("%w: subject is empty or has a line break", ErrBadMail)
	}
	if m.Kind == "" || strings.ContainsAny(m.Kind, "\r\n ") {
		return fmt.Errorf("%w: kind is empty or not one word", ErrBadMail)
	}
	if m.Text == "" {
		return fmt.Errorf("%w: no plain-text body", ErrBadMail)
	}
	return nil
}
