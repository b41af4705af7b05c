package bunrepo

import (
	"context"
	"maps"
	"slices"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"

	"gatehouse/usecase"
)

// tokenIssuanceTable holds the tokens issued per hour, every instance's added up
// (usecase.IssuanceCounter); housekeeping deletes hours older than
// issuanceRetention.
func tokenIssuanceTable() []tableDef {
	return []tableDef{{
		name:       "token_issuance",
		columns:    []column{col("hour_start", typeTime), col("tokens", typeBigInt)},
		primaryKey: []string{"hour_start"},
	}}
}

// issuanceRetention: the console charts the last 24 hours; a day more is kept.
const issuanceRetention = 48 * time.Hour

// IssuanceRepository stores the tokens issued per hour.
type IssuanceRepository struct {
	db  *bun.DB
	add string // the upsert that adds to an hour's count, in the database's dialect
}

var _ usecase.IssuanceStore = (*IssuanceRepository)(nil)

// NewIssuanceRepository returns a repository over db.
func NewIssuanceRepository(db *bun.DB) *IssuanceRepository {
	add := "INSERT INTO token_issuance (hour_start, tokens) VALUES (?, ?) " +
		"ON CONFLICT (hour_start) DO UPDATE SET tokens = token_issuance.tokens + excluded.tokens"
	if db.Dialect().Name() == dialect.MySQL {
		add = "INSERT INTO token_issuance (hour_start, tokens) VALUES (?, ?) " +
			"ON DUPLICATE KEY UPDATE tokens = tokens + VALUES(tokens)"
	}
	return &IssuanceRepository{db: db, add: add}
}

func hourStart(hour int64) time.Time { return time.Unix(hour*3600, 0).UTC() }

// AddIssued adds counts (Unix hour → tokens) to the stored ones, in one transaction:
// each hour's row is created or added to by the database, so instances flushing at
// once add up. Hours go in order, so two such transactions lock rows in the same
// order and never deadlock.
func (r *IssuanceRepository) AddIssued(ctx context.Context, counts map[int64]int64) error {
	if len(counts) == 0 {
		return nil
	}
	return inTx(ctx, r.db, nil, func(ctx context.Context, tx bun.Tx) error {
		for _, h := range slices.Sorted(maps.Keys(counts)) {
			if _, err := tx.NewRaw(r.add, hourStart(h), counts[h]).Exec(ctx); err != nil {
				return wrapErr(err, "add to the tokens issued at %s", hourStart(h).Format(time.RFC3339))
			}
		}
		return nil
	})
}

// IssuedSince returns the stored counts of the hours from fromHour on.
func (r *IssuanceRepository) IssuedSince(ctx context.Context, fromHour int64) (map[int64]int64, error) {
	var rows []struct {
		HourStart time.Time `bun:"hour_start"`
		Tokens    int64     `bun:"tokens"`
	}
	if err := conn(ctx, r.db).NewRaw("SELECT hour_start, tokens FROM token_issuance WHERE hour_start >= ?",
		hourStart(fromHour)).Scan(ctx, &rows); err != nil {
		return nil, wrapErr(err, "read the tokens issued per hour")
	}
	out := make(map[int64]int64, len(rows))
	for _, row := range rows {
		out[row.HourStart.Unix()/3600] += row.Tokens
	}
	return out, nil
}
