package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse/adapter/crypto"
	"gatehouse/adapter/mail"
	"gatehouse/adapter/mail/smtptest"
	"gatehouse/adapter/repository/bunrepo"
	"gatehouse/adapter/repository/bunrepo/bunrepotest"
	"gatehouse/domain"
	"gatehouse/infrastructure/database/dbtest"
	"gatehouse/usecase"
)

// syncBuffer is a log destination the delivery goroutine and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// TestMailDelivery_SendsAtOnceAndRetries: the serve loop sends a queued mail without
// waiting for its tick, retries one the SMTP server refused at the next tick, logs each
// attempt without the address or the link, and stops with its context.
func TestMailDelivery_SendsAtOnceAndRetries(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{})
	db := bunrepotest.Open(t, dbtest.SQLite(t))
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	cipher, err := crypto.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := mail.ParseSMTPURL(srv.URL())
	cfg.From = "no-reply@id.example.com"
	policy := usecase.DefaultMailPolicy()
	policy.FirstRetry = 50 * time.Millisecond
	mailer := usecase.NewMailer(bunrepo.NewMailRepository(db), mail.NewSMTP(cfg, time.Now), cipher, crypto.NewRandom(),
		usecase.SystemClock{}, policy)
	logs := &syncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	ctx, stop := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		runMailDelivery(ctx, mailer, log, 200*time.Millisecond)
	}()

	link := "https://id.example.com/reset-password?token=" + strings.Repeat("s", 43)
	queue := func(to string) {
		t.Helper()
		if err := mailer.Queue(t.Context(), domain.Mail{Kind: "reset_password", To: to, Subject: "Reset your password", Text: link}); err != nil {
			t.Fatal(err)
		}
	}
	queue("erin@example.com")
	srv.Wait(t, 1, 5*time.Second)
	srv.FailNext(1)
	queue("frank@example.com")
	got := srv.Wait(t, 2, 5*time.Second)
	if got[1].To != "frank@example.com" {
		t.Fatalf("second mail to %q", got[1].To)
	}
	stop()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the delivery loop did not stop with its context")
	}
	out := logs.String()
	for _, want := range []string{`"msg":"mail sent","kind":"reset_password"`, `"msg":"mail not sent; will retry","kind":"reset_password"`, `"retry_in":"50ms"`, "451"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s:\n%s", want, out)
		}
	}
	if strings.Contains(out, "erin@") || strings.Contains(out, "frank@") || strings.Contains(out, "token=") {
		t.Errorf("log holds an address or the link:\n%s", out)
	}
}
