package usecase_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"gatehouse/adapter/crypto"
	"gatehouse/adapter/mail"
	"gatehouse/adapter/mail/smtptest"
	"gatehouse/adapter/repository/bunrepo"
	"gatehouse/adapter/repository/bunrepo/bunrepotest"
	"gatehouse/domain"
	"gatehouse/infrastructure/database/dbtest"
	"gatehouse/usecase"
)

// mailSetup is one instance's mailer over db, sending to a real SMTP server.
type mailSetup struct {
	db     *bun.DB
	clock  *clock
	mailer *usecase.Mailer
	cipher *crypto.Cipher
}

func newCipher(t *testing.T) *crypto.Cipher {
	t.Helper()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	c, err := crypto.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newMailSetup(t *testing.T, db *bun.DB, srv *smtptest.Server, cipher *crypto.Cipher, clk *clock) *mailSetup {
	t.Helper()
	cfg, err := mail.ParseSMTPURL(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	cfg.From, cfg.Timeout = "no-reply@id.example.com", 5*time.Second
	m := usecase.NewMailer(bunrepo.NewMailRepository(db), mail.NewSMTP(cfg, clk.Now), cipher, crypto.NewRandom(), clk,
		usecase.DefaultMailPolicy())
	return &mailSetup{db: db, clock: clk, mailer: m, cipher: cipher}
}

func verifyMail(to string) domain.Mail {
	return domain.Mail{Kind: "verify_email", To: to, Subject: "Verify your email",
		Text: "Open https://id.example.com/verify-email?token=" + strings.Repeat("t", 43) + " to verify."}
}

func outboxRows(t *testing.T, db *bun.DB) []map[string]any {
	t.Helper()
	var rows []map[string]any
	if err := db.NewSelect().Table("mail_outbox").Scan(t.Context(), &rows); err != nil {
		t.Fatal(err)
	}
	return rows
}

func TestMailer_QueuesSealedAndDelivers(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{})
	db := bunrepotest.Open(t, dbtest.SQLite(t))
	s := newMailSetup(t, db, srv, newCipher(t), &clock{t: time.Now().UTC()})

	if err := s.mailer.Queue(t.Context(), verifyMail("alice@example.com")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.mailer.Wake():
	default:
		t.Fatal("queueing did not wake the delivery loop")
	}
	// The database holds neither the address nor the link.
	rows := outboxRows(t, db)
	if len(rows) != 1 {
		t.Fatalf("outbox rows: %d", len(rows))
	}
	sealed, _ := rows[0]["sealed"].([]byte)
	if len(sealed) == 0 || bytes.Contains(sealed, []byte("alice")) || bytes.Contains(sealed, []byte("token=")) {
		t.Fatalf("sealed mail is not sealed: %q", sealed)
	}
	got, err := s.mailer.DeliverDue(t.Context())
	if err != nil || len(got) != 1 || got[0].Err != nil || got[0].Kind != "verify_email" || got[0].Attempts != 1 {
		t.Fatalf("deliveries %+v, %v", got, err)
	}
	mails := srv.Mails()
	if len(mails) != 1 || mails[0].To != "alice@example.com" {
		t.Fatalf("server got %d mails", len(mails))
	}
	if p, err := smtptest.Parse(mails[0].Raw); err != nil || !strings.Contains(p.Text, "token=ttt") || p.Subject != "Verify your email" {
		t.Fatalf("mail as read: %+v, %v", p, err)
	}
	if rows := outboxRows(t, db); len(rows) != 0 {
		t.Fatalf("a sent mail stays in the outbox: %v", rows)
	}
	// A mail that must not be sent is refused when queued, and nothing is stored.
	if err := s.mailer.Queue(t.Context(), verifyMail("a@example.com\r\nBcc: eve@example.com")); !errors.Is(err, domain.ErrBadMail) {
		t.Fatalf("header injection: %v", err)
	}
	if rows := outboxRows(t, db); len(rows) != 0 {
		t.Fatalf("a refused mail was stored")
	}
}

func TestMailer_RetriesWithBackoffThenGivesUp(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{})
	db := bunrepotest.Open(t, dbtest.SQLite(t))
	clk := &clock{t: time.Now().UTC()}
	s := newMailSetup(t, db, srv, newCipher(t), clk)
	ctx := t.Context()

	srv.FailNext(2)
	if err := s.mailer.Queue(ctx, verifyMail("bob@example.com")); err != nil {
		t.Fatal(err)
	}
	got, err := s.mailer.DeliverDue(ctx)
	if err != nil || len(got) != 1 || got[0].Err == nil || got[0].Retry != 30*time.Second || got[0].Dropped {
		t.Fatalf("first attempt against a failing server: %+v, %v", got, err)
	}
	if !strings.Contains(got[0].Err.Error(), "451") {
		t.Fatalf("the error does not say what the server said: %v", got[0].Err)
	}
	// Not due again before its back-off ends.
	clk.Advance(29 * time.Second)
	if got, _ := s.mailer.DeliverDue(ctx); len(got) != 0 {
		t.Fatalf("retried before the back-off ended: %+v", got)
	}
	clk.Advance(time.Second)
	if got, _ := s.mailer.DeliverDue(ctx); len(got) != 1 || got[0].Retry != time.Minute || got[0].Attempts != 2 {
		t.Fatalf("second attempt: %+v (want a doubled back-off)", got)
	}
	clk.Advance(time.Minute)
	if got, _ := s.mailer.DeliverDue(ctx); len(got) != 1 || got[0].Err != nil {
		t.Fatalf("third attempt: %+v", got)
	}
	if n := len(srv.Mails()); n != 1 {
		t.Fatalf("%d mails arrived, want 1", n)
	}

	// A mail that still fails a day after it was queued is dropped.
	srv.Refuse(errors.New("mailbox unavailable"))
	if err := s.mailer.Queue(ctx, verifyMail("carol@example.com")); err != nil {
		t.Fatal(err)
	}
	clk.Advance(24 * time.Hour)
	got, err = s.mailer.DeliverDue(ctx)
	if err != nil || len(got) != 1 || !got[0].Dropped || got[0].Err == nil {
		t.Fatalf("a day-old failing mail: %+v, %v", got, err)
	}
	if rows := outboxRows(t, db); len(rows) != 0 {
		t.Fatalf("a dropped mail stays in the outbox")
	}
}

func TestMailer_UnreadableMailIsDropped(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{})
	db := bunrepotest.Open(t, dbtest.SQLite(t))
	clk := &clock{t: time.Now().UTC()}
	if err := newMailSetup(t, db, srv, newCipher(t), clk).mailer.Queue(t.Context(), verifyMail("dave@example.com")); err != nil {
		t.Fatal(err)
	}
	// Another secret key (GATEHOUSE_SECRET_KEY replaced) cannot open it: dropped, not
	// retried for a day.
	got, err := newMailSetup(t, db, srv, newCipher(t), clk).mailer.DeliverDue(t.Context())
	if err != nil || len(got) != 1 || !got[0].Dropped || len(srv.Mails()) != 0 {
		t.Fatalf("unreadable mail: %+v, %v, %d sent", got, err, len(srv.Mails()))
	}
}

// TestMailer_InstancesSendEachMailOnce: several instances deliver from one database
// at once; every mail arrives exactly once.
func TestMailer_InstancesSendEachMailOnce(t *testing.T) {
	for name, url := range dbtest.All(t) {
		t.Run(name, func(t *testing.T) {
			srv := smtptest.Start(t, smtptest.Options{})
			db := bunrepotest.Open(t, url)
			cipher, clk := newCipher(t), &clock{t: time.Now().UTC()}
			const mails, instances = 20, 4
			first := newMailSetup(t, db, srv, cipher, clk)
			for i := range mails {
				if err := first.mailer.Queue(t.Context(), verifyMail("user"+string(rune('a'+i))+"@example.com")); err != nil {
					t.Fatal(err)
				}
			}
			var wg sync.WaitGroup
			errs := make(chan error, instances)
			for range instances {
				s := newMailSetup(t, db, srv, cipher, clk)
				wg.Go(func() {
					if _, err := s.mailer.DeliverDue(t.Context()); err != nil {
						errs <- err
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			got := srv.Mails()
			seen := map[string]int{}
			for _, m := range got {
				seen[m.To]++
			}
			if len(got) != mails || len(seen) != mails {
				t.Fatalf("%d mails arrived for %d recipients, want each of %d once", len(got), len(seen), mails)
			}
		})
	}
}
