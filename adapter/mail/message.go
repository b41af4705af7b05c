package mail

import (
	"fmt"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
	"golang.org/x/net/idna"

	"gatehouse/domain"
)

// composer turns a domain.Mail into a MIME message from the configured sender.
type composer struct {
	from string
	now  func() time.Time
	// encoding of the bodies; empty is go-mail's quoted-printable, which SMTP
	// needs for long lines and 7-bit relays.
	encoding gomail.Encoding
}

func (c composer) message(m domain.Mail) (*gomail.Msg, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	var opts []gomail.MsgOption
	if c.encoding != "" {
		opts = append(opts, gomail.WithEncoding(c.encoding))
	}
	msg := gomail.NewMsg(opts...)
	if err := msg.From(c.from); err != nil {
		return nil, fmt.Errorf("sender %q: %w", c.from, err)
	}
	if err := msg.To(asciiDomain(m.To)); err != nil {
		return nil, fmt.Errorf("%w: recipient: %v", domain.ErrBadMail, err)
	}
	msg.Subject(m.Subject)
	msg.SetDateWithValue(c.now())
	msg.SetMessageID()
	msg.SetUserAgent("Gatehouse")
	// RFC 3834: an automatic message; vacation responders must not answer it.
	msg.SetGenHeader("Auto-Submitted", "auto-generated")
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	return msg, nil
}

// asciiDomain writes an address's internationalised domain as its A-label
// (user@bücher.example → user@xn--bcher-kva.example, RFC 5890), which every SMTP
// server takes: a raw UTF-8 domain needs one that offers SMTPUTF8 (RFC 6531), and a
// strict relay refuses it otherwise. A non-ASCII local part still needs SMTPUTF8,
// which the client then asks for.
func asciiDomain(addr string) string {
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return addr
	}
	ascii, err := idna.Lookup.ToASCII(addr[at+1:])
	if err != nil {
		return addr
	}
	return addr[:at+1] + ascii
}
