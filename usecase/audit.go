package usecase

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"gatehouse/domain"
)

// AuditLog appends events to the audit log (SECURITY S56). Inside Transactor.InTx it
// writes in the unit of work's transaction.
type AuditLog interface {
	Record(ctx context.Context, e domain.AuditEvent) error
}

// AuditStore is the audit log with its reads (`gatehouse audit list`).
type AuditStore interface {
	AuditLog
	// ListAuditEvents lists the events that match f, newest first, at most f.Limit.
	ListAuditEvents(ctx context.Context, f AuditFilter) ([]domain.AuditEvent, error)
}

// AuditFilter selects audit events; zero fields select everything.
type AuditFilter struct {
	// User: events whose actor or target is this user id, or that concern the user
	// (domain.AuditEvent.User).
	User  string
	Type  string
	Since time.Time
	Limit int
	// Before: only events after this one in the list's order (older, or as old with
	// a smaller id): the cursor of a page (the admin API). Zero selects from the newest.
	Before AuditPosition
}

// AuditPosition is where an event stands in the list's order: its time and id.
type AuditPosition struct {
	Time time.Time
	ID   string
}

// Transactor runs units of work: every store call made with the context InTx passes
// to fn runs in one transaction, committed when fn returns nil and rolled back
// otherwise. fn may run again (after a deadlock), so it must do nothing but store
// calls that can be repeated.
type Transactor interface {
	InTx(ctx context.Context, fn func(ctx context.Context) error) error
}

// Audit writes the audit log and its copy in the server log (a line "audit" with
// type, actor, target, ip and reason, for a SIEM). A nil *Audit records nothing and
// runs changes without a transaction of their own (unit tests of other use cases).
type Audit struct {
	store  AuditStore
	tx     Transactor
	random Random
	clock  Clock
	log    *slog.Logger
}

// NewAudit builds the audit log.
func NewAudit(store AuditStore, tx Transactor, random Random, clock Clock, log *slog.Logger) *Audit {
	if log == nil {
		log = slog.Default()
	}
	return &Audit{store: store, tx: tx, random: random, clock: clock, log: log}
}

type auditSourceKey struct{}

type auditSource struct {
	actor, ip string
	// quiet: the log line at debug level (the command line, whose stderr is for its
	// own messages).
	quiet bool
}

// WithAuditActor marks what is done with ctx as done by actor (a user id, a client
// id, or domain.AuditActorCLI) for the audit log.
func WithAuditActor(ctx context.Context, actor string) context.Context {
	s, _ := ctx.Value(auditSourceKey{}).(auditSource)
	s.actor = actor
	return context.WithValue(ctx, auditSourceKey{}, s)
}

// WithQuietAuditLines makes the log lines of the events recorded with ctx debug
// lines: the command line's stderr is for its own one-line messages, and its events
// are in the audit log all the same.
func WithQuietAuditLines(ctx context.Context) context.Context {
	s, _ := ctx.Value(auditSourceKey{}).(auditSource)
	s.quiet = true
	return context.WithValue(ctx, auditSourceKey{}, s)
}

// WithAuditIP marks what is done with ctx as asked from address ip.
func WithAuditIP(ctx context.Context, ip string) context.Context {
	s, _ := ctx.Value(auditSourceKey{}).(auditSource)
	s.ip = ip
	return context.WithValue(ctx, auditSourceKey{}, s)
}

// complete gives e an id, the time, and the actor and address of ctx where e has none.
func (a *Audit) complete(ctx context.Context, e domain.AuditEvent) domain.AuditEvent {
	s, _ := ctx.Value(auditSourceKey{}).(auditSource)
	if e.Actor == "" {
		e.Actor = s.actor
	}
	if e.IP == "" {
		e.IP = s.ip
	}
	e.ID, e.Time = a.random.FamilyID(), a.clock.Now().UTC() // time-ordered ids
	return e
}

// Change runs change and appends e in one transaction: both are stored or neither
// (SECURITY S56). change must only call stores with the context it is given.
func (a *Audit) Change(ctx context.Context, e domain.AuditEvent, change func(ctx context.Context) error) error {
	if a == nil {
		return change(ctx)
	}
	e = a.complete(ctx, e)
	err := a.tx.InTx(ctx, func(ctx context.Context) error {
		if err := change(ctx); err != nil {
			return err
		}
		if err := a.store.Record(ctx, e); err != nil {
			return fmt.Errorf("record audit event %s: %w", e.Type, err)
		}
		return nil
	})
	if err == nil {
		a.emit(ctx, e)
	}
	return err
}

// Note appends e after what it tells of happened (a sign-in, a logout): best effort,
// a failure is logged and not returned, since the user's request succeeded.
func (a *Audit) Note(ctx context.Context, e domain.AuditEvent) {
	if a == nil {
		return
	}
	e = a.complete(ctx, e)
	if err := a.store.Record(context.WithoutCancel(ctx), e); err != nil {
		a.log.Error("audit event not recorded", "type", e.Type, "target", e.Target, "err", err)
	}
	a.emit(ctx, e)
}

// emit writes e's line in the server log: never its details, which may name fields.
func (a *Audit) emit(ctx context.Context, e domain.AuditEvent) {
	level := slog.LevelInfo
	if s, _ := ctx.Value(auditSourceKey{}).(auditSource); s.quiet {
		level = slog.LevelDebug
	}
	a.log.LogAttrs(ctx, level, "audit", slog.String("id", e.ID), slog.String("type", e.Type),
		slog.String("actor", e.Actor), slog.String("target", e.Target), slog.String("ip", e.IP),
		slog.String("reason", e.Reason))
}

// List lists the audit events that match f, newest first; f.Limit 0 means 100.
func (a *Audit) List(ctx context.Context, f AuditFilter) ([]domain.AuditEvent, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	return a.store.ListAuditEvents(ctx, f)
}

// fieldsChanged is the names of the fields whose values differ, for Details.
func fieldsChanged(pairs ...auditField) []string {
	var out []string
	for _, p := range pairs {
		if p.changed {
			out = append(out, p.name)
		}
	}
	return out
}

type auditField struct {
	name    string
	changed bool
}

// changedDetails is the Details of a change of fields.
func changedDetails(fields []string) map[string]any {
	if fields == nil {
		fields = []string{}
	}
	return map[string]any{"fields": fields}
}
