package bunrepo

import (
	"context"
	"time"

	"github.com/uptrace/bun"

	"gatehouse/usecase"
)

// MailRepository is the outbox of mails not yet sent. A claim is a conditional UPDATE
// on the attempts count, so of several instances reading the same due mail exactly
// one sends it; a sent mail's row is deleted, so the table holds only the backlog.
type MailRepository struct {
	db *bun.DB
}

var _ usecase.MailOutbox = (*MailRepository)(nil)

// NewMailRepository returns a repository over db.
func NewMailRepository(db *bun.DB) *MailRepository { return &MailRepository{db: db} }

type mailModel struct {
	bun.BaseModel `bun:"table:mail_outbox"`

	ID            string    `bun:"id,pk"`
	Kind          string    `bun:"kind"`
	Sealed        []byte    `bun:"sealed"`
	Attempts      int       `bun:"attempts"`
	LastError     string    `bun:"last_error"`
	CreatedAt     time.Time `bun:"created_at"`
	NextAttemptAt time.Time `bun:"next_attempt_at"`
}

// EnqueueMail stores a mail.
func (r *MailRepository) EnqueueMail(ctx context.Context, m usecase.QueuedMail) error {
	row := mailModel{ID: m.ID, Kind: m.Kind, Sealed: m.Sealed, Attempts: m.Attempts,
		CreatedAt: m.CreatedAt.UTC(), NextAttemptAt: m.NextAttemptAt.UTC()}
	if _, err := conn(ctx, r.db).NewInsert().Model(&row).Exec(ctx); err != nil {
		return wrapErr(err, "enqueue mail")
	}
	return nil
}

// DueMails lists the mails due at now, oldest first.
func (r *MailRepository) DueMails(ctx context.Context, now time.Time, limit int) ([]usecase.QueuedMail, error) {
	var rows []mailModel
	err := conn(ctx, r.db).NewSelect().Model(&rows).Where("next_attempt_at <= ?", now.UTC()).
		OrderExpr("next_attempt_at, id").Limit(int64(limit)).Scan(ctx)
	if err != nil {
		return nil, wrapErr(err, "list due mails")
	}
	out := make([]usecase.QueuedMail, len(rows))
	for i, row := range rows {
		out[i] = usecase.QueuedMail{ID: row.ID, Kind: row.Kind, Sealed: row.Sealed, Attempts: row.Attempts,
			CreatedAt: row.CreatedAt.UTC(), NextAttemptAt: row.NextAttemptAt.UTC()}
	}
	return out, nil
}

// ClaimMail counts an attempt and pushes the next one to until, if the mail still has
// the attempts count it was read with.
func (r *MailRepository) ClaimMail(ctx context.Context, id string, attempts int, until time.Time) (bool, error) {
	res, err := conn(ctx, r.db).NewRaw("UPDATE mail_outbox SET attempts = attempts + 1, next_attempt_at = ? WHERE id = ? AND attempts = ?",
		until.UTC(), id, attempts).Exec(ctx)
	n, err := rowsAffected(res, err, "claim mail %s", id)
	return n == 1, err
}

// DeleteMail removes a mail.
func (r *MailRepository) DeleteMail(ctx context.Context, id string) error {
	if _, err := conn(ctx, r.db).NewRaw("DELETE FROM mail_outbox WHERE id = ?", id).Exec(ctx); err != nil {
		return wrapErr(err, "delete mail %s", id)
	}
	return nil
}

// RetryMail schedules the next attempt of a mail still at attempts.
func (r *MailRepository) RetryMail(ctx context.Context, id string, attempts int, next time.Time, reason string) error {
	_, err := conn(ctx, r.db).NewRaw("UPDATE mail_outbox SET next_attempt_at = ?, last_error = ? WHERE id = ? AND attempts = ?",
		next.UTC(), reason, id, attempts).Exec(ctx)
	if err != nil {
		return wrapErr(err, "reschedule mail %s", id)
	}
	return nil
}

// mailOutboxSchema is migration 20260313000001: the outbox, indexed by when each mail
// is due.
func mailOutboxSchema() []tableDef {
	return []tableDef{{
		name: "mail_outbox",
		columns: []column{col("id", typeID), col("kind", typeID), col("sealed", typeBlob), col("attempts", typeInt),
			col("last_error", typeText), col("created_at", typeTime), col("next_attempt_at", typeTime)},
		primaryKey: []string{"id"},
		indexes:    []index{idx("next_attempt_at")},
	}}
}
