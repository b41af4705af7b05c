package usecase

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"gatehouse/domain"
)

// MailTransport hands one mail to the world: an SMTP server, or a directory of .eml
// files when none is configured.
type MailTransport interface {
	Send(ctx context.Context, m domain.Mail) error
}

// MailOutbox keeps the mails not yet sent, sealed. Claims are decided in the
// database, so that with several instances on one database each mail is sent by one.
type MailOutbox interface {
	// EnqueueMail stores a mail due at once.
	EnqueueMail(ctx context.Context, m QueuedMail) error
	// DueMails lists up to limit mails whose next attempt is due at now, oldest first.
	DueMails(ctx context.Context, now time.Time, limit int) ([]QueuedMail, error)
	// ClaimMail takes the mail for one attempt: it counts the attempt and moves the
	// next attempt to until, only if the mail still has the attempts count it was read
	// with (a conditional update). False when another caller claimed it first, or it
	// is gone.
	ClaimMail(ctx context.Context, id string, attempts int, until time.Time) (bool, error)
	// DeleteMail removes a sent (or abandoned) mail; a missing one is no error.
	DeleteMail(ctx context.Context, id string) error
	// RetryMail sets when the claimed attempt (attempts as counted by ClaimMail) is
	// tried again, and why it failed; nothing when the mail changed meanwhile.
	RetryMail(ctx context.Context, id string, attempts int, next time.Time, reason string) error
}

// QueuedMail is a mail in the outbox. Sealed holds the whole mail (recipient, subject
// and bodies, which carry single-use links), encrypted with the server's key and bound
// to the id: the database never holds a link in the clear.
type QueuedMail struct {
	ID            string
	Kind          string
	Sealed        []byte
	Attempts      int
	CreatedAt     time.Time
	NextAttemptAt time.Time
}

// Sealer encrypts and authenticates small secrets with the server's key
// (adapter/crypto.Cipher); ad binds a ciphertext to its row.
type Sealer interface {
	Seal(plaintext, ad []byte) ([]byte, error)
	Open(ciphertext, ad []byte) ([]byte, error)
}

// MailPolicy is how hard the outbox tries.
type MailPolicy struct {
	// FirstRetry is the wait after the first failed attempt; each further failure
	// doubles it, up to MaxRetry.
	FirstRetry time.Duration
	MaxRetry   time.Duration
	// GiveUpAfter: a mail still not sent this long after it was queued is dropped
	// (and reported), since its links have expired by then anyway.
	GiveUpAfter time.Duration
	// Claim is how long an attempt may take before another instance may try the mail
	// again (the sender died mid-attempt).
	Claim time.Duration
	// Batch bounds the mails one round sends.
	Batch int
}

// DefaultMailPolicy retries after 30 s, 1 min, 2 min … up to every 30 min, for a day.
func DefaultMailPolicy() MailPolicy {
	return MailPolicy{FirstRetry: 30 * time.Second, MaxRetry: 30 * time.Minute, GiveUpAfter: 24 * time.Hour,
		Claim: 2 * time.Minute, Batch: 50}
}

// backoff is the wait after the attempts-th failed attempt (1 for the first).
func (p MailPolicy) backoff(attempts int) time.Duration {
	d := p.FirstRetry
	for i := 1; i < attempts && d < p.MaxRetry; i++ {
		d *= 2
	}
	return min(d, p.MaxRetry)
}

// Mailer queues mails and delivers them in the background: a page that asks for a
// mail only waits for one insert, never for an SMTP server, and a mail that cannot be
// sent now is retried with back-off.
type Mailer struct {
	outbox    MailOutbox
	transport MailTransport
	sealer    Sealer
	random    Random
	clock     Clock
	policy    MailPolicy
	wake      chan struct{}
}

// NewMailer builds the outbox use case.
func NewMailer(outbox MailOutbox, transport MailTransport, sealer Sealer, random Random, clock Clock, policy MailPolicy) *Mailer {
	return &Mailer{outbox: outbox, transport: transport, sealer: sealer, random: random, clock: clock, policy: policy,
		wake: make(chan struct{}, 1)}
}

// Queue validates the mail, seals it and stores it due at once, then wakes this
// instance's delivery loop.
func (m *Mailer) Queue(ctx context.Context, mail domain.Mail) error {
	if err := mail.Validate(); err != nil {
		return err
	}
	plain, err := json.Marshal(mail)
	if err != nil {
		return fmt.Errorf("encode mail: %w", err)
	}
	id := m.random.FamilyID()
	sealed, err := m.sealer.Seal(plain, sealedMailAD(id))
	if err != nil {
		return fmt.Errorf("seal mail: %w", err)
	}
	now := m.clock.Now()
	if err := m.outbox.EnqueueMail(ctx, QueuedMail{ID: id, Kind: mail.Kind, Sealed: sealed, CreatedAt: now, NextAttemptAt: now}); err != nil {
		return fmt.Errorf("queue %s mail: %w", mail.Kind, err)
	}
	select {
	case m.wake <- struct{}{}:
	default:
	}
	return nil
}

// Wake is signalled when a mail was queued by this instance.
func (m *Mailer) Wake() <-chan struct{} { return m.wake }

// Delivery is what happened to one mail in a round, for the log: never the address,
// subject or body.
type Delivery struct {
	ID       string
	Kind     string
	Attempts int
	Err      error         // nil when sent
	Retry    time.Duration // the wait before the next attempt; 0 when sent or dropped
	Dropped  bool          // given up: too old, or unreadable
}

// DeliverDue sends the mails due now, each claimed first so that no two instances
// send the same one, and reports each attempt. A failed attempt is retried later;
// an error is returned only when the outbox itself cannot be read.
func (m *Mailer) DeliverDue(ctx context.Context) ([]Delivery, error) {
	due, err := m.outbox.DueMails(ctx, m.clock.Now(), m.policy.Batch)
	if err != nil {
		return nil, fmt.Errorf("list due mails: %w", err)
	}
	var out []Delivery
	for _, q := range due {
		if ctx.Err() != nil {
			break
		}
		d, ok, err := m.attempt(ctx, q)
		if err != nil {
			return out, err
		}
		if ok {
			out = append(out, d)
		}
	}
	return out, nil
}

// attempt claims and sends one mail; ok is false when another caller had it.
func (m *Mailer) attempt(ctx context.Context, q QueuedMail) (Delivery, bool, error) {
	now := m.clock.Now()
	claimed, err := m.outbox.ClaimMail(ctx, q.ID, q.Attempts, now.Add(m.policy.Claim))
	if err != nil || !claimed {
		return Delivery{}, false, err
	}
	d := Delivery{ID: q.ID, Kind: q.Kind, Attempts: q.Attempts + 1}
	var mail domain.Mail
	plain, err := m.sealer.Open(q.Sealed, sealedMailAD(q.ID))
	if err == nil {
		err = json.Unmarshal(plain, &mail)
	}
	if err != nil {
		// Sealed under another key (the secret key was replaced) or damaged: no retry
		// can read it.
		d.Err, d.Dropped = fmt.Errorf("open queued mail: %w", err), true
		return d, true, m.outbox.DeleteMail(ctx, q.ID)
	}
	if err := m.transport.Send(ctx, mail); err != nil {
		d.Err = err
		if errors.Is(err, domain.ErrBadMail) || now.Sub(q.CreatedAt) >= m.policy.GiveUpAfter {
			d.Dropped = true
			return d, true, m.outbox.DeleteMail(ctx, q.ID)
		}
		d.Retry = m.policy.backoff(d.Attempts)
		return d, true, m.outbox.RetryMail(ctx, q.ID, d.Attempts, now.Add(d.Retry), truncate(err.Error(), 500))
	}
	return d, true, m.outbox.DeleteMail(ctx, q.ID)
}

// truncate shortens s to at most n bytes without cutting a character in two (the
// databases refuse text that is not UTF-8).
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}

// sealedMailAD binds a sealed mail to its row, and apart from anything else the same
// key seals (signing keys).
func sealedMailAD(id string) []byte { return []byte("mail_outbox:" + id) }
