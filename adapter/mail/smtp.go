package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"time"

	gomail "github.com/wneessen/go-mail"

	"gatehouse/domain"
)

// SMTPConfig is where and how mail is submitted.
type SMTPConfig struct {
	Host     string
	Port     int
	Username string
	Password string
	// ImplicitTLS: smtps://, TLS from the first byte. Otherwise STARTTLS is used when
	// the server offers it.
	ImplicitTLS bool
	From        string
	Timeout     time.Duration
	// TLS, when not nil, replaces the default TLS settings (the system's roots and the
	// host's name); tests use it to trust their own server.
	TLS *tls.Config
}

// ParseSMTPURL reads GATEHOUSE_SMTP_URL: smtp://[user[:pass]@]host[:port] (port 25
// by default; STARTTLS when offered) or smtps://… (port 465, implicit TLS).
func ParseSMTPURL(raw string) (SMTPConfig, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return SMTPConfig{}, errors.New("not a URL (want smtp://user:pass@host:port or smtps://…)")
	}
	var c SMTPConfig
	switch u.Scheme {
	case "smtp":
		c.Port = 25
	case "smtps":
		c.Port, c.ImplicitTLS = 465, true
	default:
		return SMTPConfig{}, fmt.Errorf("scheme %q: want smtp:// or smtps://", u.Scheme)
	}
	if u.Hostname() == "" {
		return SMTPConfig{}, errors.New("no host (want smtp://user:pass@host:port)")
	}
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.Fragment != "" {
		return SMTPConfig{}, errors.New("a path, query or fragment means nothing here (want smtp://user:pass@host:port)")
	}
	c.Host = u.Hostname()
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return SMTPConfig{}, fmt.Errorf("port %q is not a port number", p)
		}
		c.Port = n
	}
	if u.User != nil {
		c.Username = u.User.Username()
		c.Password, _ = u.User.Password()
	}
	return c, nil
}

// SMTP submits each mail over a new connection: Gatehouse sends few mails, and a
// pooled connection would need keeping alive and re-authenticating.
type SMTP struct {
	cfg      SMTPConfig
	composer composer
}

// NewSMTP builds the transport; now is the clock of the Date header.
func NewSMTP(cfg SMTPConfig, now func() time.Time) *SMTP {
	if cfg.Timeout == 0 {
		cfg.Timeout = 15 * time.Second
	}
	return &SMTP{cfg: cfg, composer: composer{from: cfg.From, now: now}}
}

// Send delivers one mail to the SMTP server. Errors name the server, never the
// password; a mail the server refuses for good (5xx) is still an error the outbox
// retries until it gives up, since a misconfigured relay is the usual cause.
func (s *SMTP) Send(ctx context.Context, m domain.Mail) error {
	msg, err := s.composer.message(m)
	if err != nil {
		return err
	}
	tlsCfg := s.cfg.TLS
	if tlsCfg == nil {
		tlsCfg = &tls.Config{ServerName: s.cfg.Host, MinVersion: tls.VersionTLS12}
	}
	opts := []gomail.Option{gomail.WithPort(s.cfg.Port), gomail.WithTimeout(s.cfg.Timeout), gomail.WithTLSConfig(tlsCfg)}
	if s.cfg.ImplicitTLS {
		opts = append(opts, gomail.WithSSL())
	} else {
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	}
	if s.cfg.Username != "" {
		// The strongest mechanism the server offers; PLAIN and LOGIN only over TLS
		// (or to localhost), so a password never crosses the network in the clear.
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(s.cfg.Username), gomail.WithPassword(s.cfg.Password))
	}
	client, err := gomail.NewClient(s.cfg.Host, opts...)
	if err != nil {
		return fmt.Errorf("smtp %s: %w", s.address(), err)
	}
	if err := client.DialAndSendWithContext(ctx, msg); err != nil {
		return fmt.Errorf("smtp %s: %w", s.address(), err)
	}
	return nil
}

func (s *SMTP) address() string { return net.JoinHostPort(s.cfg.Host, strconv.Itoa(s.cfg.Port)) }
