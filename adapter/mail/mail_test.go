package mail_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"gatehouse/adapter/mail"
	"gatehouse/adapter/mail/smtptest"
	"gatehouse/domain"
)

var sample = domain.Mail{Kind: "verify_email", To: "alice@example.com", Subject: "Verify your email for Gatehouse",
	Text: "Open https://id.example.com/verify-email?token=abc to verify.",
	HTML: `<p>Open <a href="https://id.example.com/verify-email?token=abc">this link</a> to verify.</p>`}

var fixedNow = func() time.Time { return time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC) }

// checkMessage reads what arrived as a mail program would and checks the headers and
// both bodies.
func checkMessage(t *testing.T, raw []byte) {
	t.Helper()
	p, err := smtptest.Parse(raw)
	if err != nil {
		t.Fatalf("not a readable message: %v\n%s", err, raw)
	}
	if p.Subject != sample.Subject {
		t.Errorf("Subject = %q", p.Subject)
	}
	if !strings.Contains(p.Header.Get("From"), "no-reply@id.example.com") || p.Header.Get("To") != "<alice@example.com>" {
		t.Errorf("From %q To %q", p.Header.Get("From"), p.Header.Get("To"))
	}
	if p.Header.Get("Message-Id") == "" || p.Header.Get("Auto-Submitted") != "auto-generated" {
		t.Errorf("Message-ID %q, Auto-Submitted %q", p.Header.Get("Message-Id"), p.Header.Get("Auto-Submitted"))
	}
	if d, err := p.Header.Date(); err != nil || !d.Equal(fixedNow()) {
		t.Errorf("Date = %v, %v", d, err)
	}
	if !strings.Contains(p.Text, "verify-email?token=abc") || !strings.Contains(p.HTML, `<a href="https://id.example.com/verify-email?token=abc">`) {
		t.Errorf("text %q, html %q", p.Text, p.HTML)
	}
}

func transport(t *testing.T, srv *smtptest.Server) (*mail.SMTP, mail.SMTPConfig) {
	t.Helper()
	cfg, err := mail.ParseSMTPURL(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	cfg.From = "Gatehouse <no-reply@id.example.com>"
	cfg.TLS = srv.TLSConfig()
	return mail.NewSMTP(cfg, fixedNow), cfg
}

func TestSMTP_PlainServerWithoutTLS(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{})
	tr, _ := transport(t, srv)
	if err := tr.Send(t.Context(), sample); err != nil {
		t.Fatalf("send: %v", err)
	}
	got := srv.Mails()
	if len(got) != 1 || got[0].From != "no-reply@id.example.com" || got[0].To != "alice@example.com" || got[0].TLS {
		t.Fatalf("server got %+v", got)
	}
	checkMessage(t, got[0].Raw)
}

// TestSMTP_InternationalDomain: a recipient at an internationalised domain is written
// with its A-label, in the envelope and the To header, so that a server that does
// not offer SMTPUTF8 (this one) takes it.
func TestSMTP_InternationalDomain(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{})
	tr, _ := transport(t, srv)
	m := sample
	m.To = "anna@bücher.example"
	if err := tr.Send(t.Context(), m); err != nil {
		t.Fatalf("send: %v", err)
	}
	got := srv.Mails()
	if len(got) != 1 || got[0].To != "anna@xn--bcher-kva.example" {
		t.Fatalf("server got %d mails, the first to %q", len(got), got[0].To)
	}
	p, err := smtptest.Parse(got[0].Raw)
	if err != nil {
		t.Fatal(err)
	}
	if to := p.Header.Get("To"); !strings.Contains(to, "anna@xn--bcher-kva.example") {
		t.Errorf("To header %q", to)
	}
}

func TestSMTP_STARTTLSWhenOfferedAndAuth(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{StartTLS: true, User: "gatehouse", Password: "s3cret-pass"})
	tr, cfg := transport(t, srv)
	if err := tr.Send(t.Context(), sample); err != nil {
		t.Fatalf("send: %v", err)
	}
	got := srv.Mails()
	if len(got) != 1 || !got[0].TLS || got[0].User != "gatehouse" {
		t.Fatalf("server got %+v, want one mail over STARTTLS after AUTH", got)
	}
	checkMessage(t, got[0].Raw)

	// A server whose certificate is not trusted gets nothing: no silent fallback to
	// plain text once TLS was offered.
	untrusted := cfg
	untrusted.TLS = &tls.Config{RootCAs: x509.NewCertPool(), ServerName: "127.0.0.1"}
	if err := mail.NewSMTP(untrusted, fixedNow).Send(t.Context(), sample); err == nil {
		t.Fatal("an untrusted certificate was accepted")
	}
	// Wrong password: an error that names the server and not the password.
	wrong := cfg
	wrong.Password = "wrong-password"
	err := mail.NewSMTP(wrong, fixedNow).Send(t.Context(), sample)
	if err == nil || !strings.Contains(err.Error(), srv.Addr) || strings.Contains(err.Error(), "wrong-password") {
		t.Fatalf("wrong password: %v", err)
	}
	if len(srv.Mails()) != 1 {
		t.Fatalf("the failed sends delivered mail")
	}
}

func TestSMTP_ImplicitTLS(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{ImplicitTLS: true})
	tr, _ := transport(t, srv)
	if err := tr.Send(t.Context(), sample); err != nil {
		t.Fatalf("send: %v", err)
	}
	if got := srv.Mails(); len(got) != 1 || !got[0].TLS {
		t.Fatalf("server got %+v", got)
	}
}

func TestSMTP_RefusedAndUnreachable(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{})
	srv.Refuse(&smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"})
	tr, cfg := transport(t, srv)
	if err := tr.Send(t.Context(), sample); err == nil || !strings.Contains(err.Error(), "550") {
		t.Fatalf("refused recipient: %v", err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := ln.Addr().String()
	ln.Close()
	gone, _ := mail.ParseSMTPURL("smtp://" + closed)
	gone.From, gone.Timeout = cfg.From, 2*time.Second
	if err := mail.NewSMTP(gone, fixedNow).Send(t.Context(), sample); err == nil || !strings.Contains(err.Error(), closed) {
		t.Fatalf("unreachable server: %v", err)
	}
	// A mail that must not be sent is refused before any connection.
	bad := sample
	bad.To = "a@example.com, b@example.com"
	if err := tr.Send(t.Context(), bad); !errors.Is(err, domain.ErrBadMail) {
		t.Fatalf("two recipients: %v", err)
	}
}

func TestParseSMTPURL(t *testing.T) {
	good := map[string]mail.SMTPConfig{
		"smtp://mx.example.com":                 {Host: "mx.example.com", Port: 25},
		"smtp://u:p%40ss@mx.example.com:587":    {Host: "mx.example.com", Port: 587, Username: "u", Password: "p@ss"},
		"smtps://mx.example.com":                {Host: "mx.example.com", Port: 465, ImplicitTLS: true},
		"smtp://[::1]:2525":                     {Host: "::1", Port: 2525},
		"smtps://apikey@smtp.example.com:2465/": {Host: "smtp.example.com", Port: 2465, Username: "apikey", ImplicitTLS: true},
	}
	for raw, want := range good {
		got, err := mail.ParseSMTPURL(raw)
		if err != nil || got != want {
			t.Errorf("%s: got %+v, %v; want %+v", raw, got, err, want)
		}
	}
	for _, raw := range []string{"", "mx.example.com", "http://mx.example.com", "smtp://", "smtp://mx:0", "smtp://mx:99999",
		"smtp://mx:port", "smtp://mx/inbox", "smtp://mx?tls=no", "smtp://%zz"} {
		if _, err := mail.ParseSMTPURL(raw); err == nil {
			t.Errorf("%q accepted", raw)
		}
	}
}

func TestDir_WritesEMLFilesOnlyTheOwnerReads(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "mail")
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	d := mail.NewDir(dir, "Gatehouse <no-reply@id.example.com>", log, fixedNow)
	for range 2 {
		if err := d.Send(t.Context(), sample); err != nil {
			t.Fatal(err)
		}
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.eml"))
	if len(files) != 2 {
		t.Fatalf("files: %v", files)
	}
	if st, _ := os.Stat(files[0]); st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", st.Mode().Perm())
	}
	if st, _ := os.Stat(dir); st.Mode().Perm() != 0o700 {
		t.Fatalf("directory mode %v, want 0700", st.Mode().Perm())
	}
	raw, _ := os.ReadFile(files[0])
	checkMessage(t, raw)
	// The link reads as it is, for grep (8-bit bodies, not quoted-printable).
	if !strings.Contains(string(raw), "\r\nOpen https://id.example.com/verify-email?token=abc to verify.") {
		t.Fatalf("the link is not in the file as it is:\n%s", raw)
	}
	if !strings.Contains(logs.String(), `"file":"`+files[0]+`"`) || !strings.Contains(logs.String(), `"kind":"verify_email"`) {
		t.Fatalf("log does not name the file: %s", logs.String())
	}
	if strings.Contains(logs.String(), "token=abc") || strings.Contains(logs.String(), "alice@") {
		t.Fatalf("log holds the link or the address: %s", logs.String())
	}
	// A directory that cannot be made is an error naming it.
	blocked := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(blocked, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	err := mail.NewDir(filepath.Join(blocked, "mail"), "no-reply@id.example.com", log, fixedNow).Send(t.Context(), sample)
	if err == nil || !strings.Contains(err.Error(), blocked) {
		t.Fatalf("unusable directory: %v", err)
	}
}
