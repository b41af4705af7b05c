package mail

import (
	gomail "github.com/wneessen/go-mail"

	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"gatehouse/domain"
)

// Dir writes each mail as an RFC 5322 .eml file, readable by any mail program, and
// logs the file's name: the transport of a server without an SMTP server. The files
// hold single-use links, so they are readable by the server's user only.
type Dir struct {
	dir      string
	log      *slog.Logger
	composer composer
}

// NewDir builds the transport; the directory is made on the first mail. The bodies
// are written as 8-bit UTF-8 (RFC 6152), not quoted-printable, so that the links in
// them read as they are: a developer can grep a file for its link and paste it.
func NewDir(dir, from string, log *slog.Logger, now func() time.Time) *Dir {
	return &Dir{dir: dir, log: log, composer: composer{from: from, now: now, encoding: gomail.NoEncoding}}
}

// Send writes the mail to a new file named by time, kind and a random suffix, so the
// files list in the order they were written.
func (d *Dir) Send(_ context.Context, m domain.Mail) error {
	msg, err := d.composer.message(m)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(d.dir, 0o700); err != nil {
		return fmt.Errorf("mail directory %s: %w", d.dir, err)
	}
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	name := filepath.Join(d.dir, fmt.Sprintf("%s-%s-%s.eml",
		d.composer.now().UTC().Format("20060102T150405.000000Z"), m.Kind, hex.EncodeToString(suffix)))
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("write mail: %w", err)
	}
	if _, err := msg.WriteTo(f); err != nil {
		f.Close()
		os.Remove(name)
		return fmt.Errorf("write mail %s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(name)
		return fmt.Errorf("write mail %s: %w", name, err)
	}
	d.log.Info("mail written to a file (GATEHOUSE_SMTP_URL is not set)", "kind", m.Kind, "file", name)
	return nil
}
