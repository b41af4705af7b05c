package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
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

// TestCheckMailDir: a missing mail directory is created and left empty; one that
// cannot be created (a path under a regular file: root ignores permission bits) is a
// configuration error naming GATEHOUSE_MAIL_DIR; with an SMTP server it is not used,
// so not checked.
func TestCheckMailDir(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "mail", "new")
	c, err := Load("", envOf(map[string]string{"GATEHOUSE_MAIL_DIR": dir}))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CheckMailDir(); err != nil {
		t.Fatalf("a new mail directory: %v", err)
	}
	if entries, err := os.ReadDir(dir); err != nil || len(entries) != 0 {
		t.Fatalf("the mail directory was not created empty: %v, %v", entries, err)
	}
	file := filepath.Join(base, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(file, "sub")
	c, err = Load("", envOf(map[string]string{"GATEHOUSE_MAIL_DIR": bad}))
	if err != nil {
		t.Fatal(err)
	}
	err = c.CheckMailDir()
	var ce *Error
	if !errors.As(err, &ce) || ce.Variable != "GATEHOUSE_MAIL_DIR" || !strings.Contains(err.Error(), bad) {
		t.Fatalf("an uncreatable mail directory: %v, want a *config.Error naming GATEHOUSE_MAIL_DIR and %s", err, bad)
	}
	c, err = Load("", envOf(map[string]string{"GATEHOUSE_MAIL_DIR": bad, "GATEHOUSE_SMTP_URL": "smtp://mx.example.com:25"}))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CheckMailDir(); err != nil {
		t.Fatalf("with an SMTP server the mail directory is not used: %v", err)
	}
}
