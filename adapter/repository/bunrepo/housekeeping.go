package bunrepo

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"

	"gatehouse/domain"
	"gatehouse/usecase"
)

// Housekeeper deletes expired rows in batches.
type Housekeeper struct {
	db *bun.DB
	// audit is how long audit events are kept (GATEHOUSE_AUDIT_RETENTION).
	audit time.Duration
}

// AuditRetention is how long audit events are kept (GATEHOUSE_AUDIT_RETENTION).
type AuditRetention time.Duration

// DefaultAuditRetention is GATEHOUSE_AUDIT_RETENTION's default: 90 days.
const DefaultAuditRetention = AuditRetention(2160 * time.Hour)

var _ usecase.Purger = (*Housekeeper)(nil)

// NewHousekeeper returns a housekeeper over db.
// Audit events are kept DefaultAuditRetention.
func NewHousekeeper(db *bun.DB) *Housekeeper { return NewHousekeeperKeeping(db, DefaultAuditRetention) }

// NewHousekeeperKeeping returns a housekeeper over db that keeps audit events for audit
// (DefaultAuditRetention when not positive).
func NewHousekeeperKeeping(db *bun.DB, audit AuditRetention) *Housekeeper {
	if audit <= 0 {
		audit = DefaultAuditRetention
	}
	return &Housekeeper{db: db, audit: time.Duration(audit)}
}

// Retention after expiry. A used or expired code is kept a day so that a replay can
// still revoke the family it started (RFC 6749 §4.1.2); families are kept until
// their last refresh token is gone and a day past the longest access token, so
// introspection keeps answering "revoked" for tokens that could still be presented.
const (
	codeRetention   = 24 * time.Hour
	familyRetention = 25 * time.Hour
	keyRetention    = 24 * time.Hour
)

// purgeRule is one table's expiry: rows whose cond holds at `cutoff` go. cond names
// the cutoff ?0, as often as it needs.
type purgeRule struct {
	table, key, cond string
	retention        time.Duration
}

func purgeRules() []purgeRule {
	return []purgeRule{
		{"authorization_codes", "hash", "expires_at < ?0", codeRetention},
		{"refresh_tokens", "hash", "expires_at < ?0", 0},
		{"revoked_access_tokens", "jti", "expires_at < ?0", 0},
		// A principal's entry expires once no token it kills can be valid; a disabled
		// principal's (expires_at NULL) stays.
		{"revoked_principals", "id", "expires_at < ?0", 0},
		{"sessions", "id", "expires_at < ?0", 0},
		{"email_tokens", "hash", "expires_at < ?0", 0},
		{"authorization_requests", "id", "expires_at < ?0", time.Hour},
		{"device_authorizations", "device_code_hash", "expires_at < ?0", time.Hour},
		// A signing key is kept a day after it left the JWKS (for `keys list`), then
		// goes: with scheduled rotation the table would otherwise only grow, and every
		// instance parses every row on each key reload.
		{"signing_keys", "id", "expires_at < ?0", keyRetention},
		{"pushed_authorization_requests", "hash", "expires_at < ?0", 0},
		// A throttle counter expires once it neither locks nor counts (ThrottleRepository).
		{"throttle_counters", "key_hash", "expires_at < ?0", 0},
		// A jti expires once what carried it can no longer be accepted (ReplayRepository).
		{"replay_jtis", "jti_hash", "expires_at < ?0", 0},
		// The console charts the tokens issued in the last 24 hours.
		{"token_issuance", "hour_start", "hour_start < ?0", issuanceRetention},
		// A family goes when it is past its expiry (or, for a revoked placeholder
		// with no expiry, past its creation) and no refresh token refers to it.
		// Written as an OR rather than COALESCE(expires_at, created_at) so that both
		// halves search the expires_at index: a COALESCE scanned the whole table.
		{"token_families", "id", "(expires_at < ?0 OR expires_at IS NULL AND created_at < ?0) AND NOT EXISTS " +
			"(SELECT 1 FROM refresh_tokens rt WHERE rt.family_id = token_families.id)", familyRetention},
	}
}

// PurgeExpired deletes what expired before now, at most batch rows per statement,
// looping per table until a statement deletes fewer than batch.
func (h *Housekeeper) PurgeExpired(ctx context.Context, now time.Time, batch int) (map[string]int64, error) {
	deleted := map[string]int64{}
	// A client of open dynamic registration that got a token is kept from then on;
	// one never used by its unused_expires_at goes (with its consents and requests).
	// Every deadline is after the epoch: a range, unlike IS NOT NULL, makes SQLite
	// search the unused_expires_at index instead of scanning every client.
	res, err := h.db.NewRaw("UPDATE clients SET unused_expires_at = NULL WHERE unused_expires_at > ? AND EXISTS "+
		"(SELECT 1 FROM token_families f WHERE f.client_id = clients.id)", time.Unix(0, 0).UTC()).Exec(ctx)
	if _, err := rowsAffected(res, err, "keep used clients"); err != nil {
		return deleted, err
	}
	rules := append(purgeRules(), purgeRule{"audit_events", "id", "occurred_at < ?0", h.audit})
	for _, r := range rules {
		cutoff := now.Add(-r.retention).UTC()
		for {
			var q string
			if h.db.Dialect().Name() == dialect.MySQL {
				// MariaDB has no LIMIT inside IN (subquery) but takes DELETE … LIMIT.
				q = fmt.Sprintf("DELETE FROM %s WHERE %s LIMIT %d", r.table, r.cond, batch)
			} else {
				// PostgreSQL has no DELETE … LIMIT; delete by key from a limited select.
				q = fmt.Sprintf("DELETE FROM %s WHERE %s IN (SELECT %s FROM %s WHERE %s LIMIT %d)",
					r.table, r.key, r.key, r.table, r.cond, batch)
			}
			res, err := h.db.NewRaw(q, cutoff).Exec(ctx)
			n, err := rowsAffected(res, err, "purge %s", r.table)
			if err != nil {
				return deleted, err
			}
			deleted[r.table] += n
			if n < int64(batch) {
				break
			}
			if err := ctx.Err(); err != nil {
				return deleted, err
			}
		}
	}
	return deleted, nil
}

// unusedClient is the condition of a client of open dynamic registration never used
// by its unused_expires_at (the argument): no grant ever started for it.
const unusedClient = "unused_expires_at < ? AND NOT EXISTS (SELECT 1 FROM token_families f WHERE f.client_id = clients.id)"

// UnusedClients: see usecase.Purger.
func (h *Housekeeper) UnusedClients(ctx context.Context, now time.Time, limit int) ([]string, error) {
	var ids []string
	// Ordered by the deadline, not the id: ORDER BY id walked the whole primary key.
	if err := conn(ctx, h.db).NewRaw("SELECT id FROM clients WHERE "+unusedClient+" ORDER BY unused_expires_at, id LIMIT ?",
		now.UTC(), limit).Scan(ctx, &ids); err != nil {
		return nil, wrapErr(err, "select unused clients")
	}
	return ids, nil
}

// DeleteUnusedClient: see usecase.Purger. Its consents and pending requests go with it
// (foreign keys), and every instance drops it from its cache.
func (h *Housekeeper) DeleteUnusedClient(ctx context.Context, id string, now time.Time) error {
	db := conn(ctx, h.db)
	res, err := db.NewRaw("DELETE FROM clients WHERE id = ? AND "+unusedClient, id, now.UTC()).Exec(ctx)
	n, err := rowsAffected(res, err, "delete unused client %q", id)
	switch {
	case err != nil:
		return err
	case n == 0:
		return fmt.Errorf("unused client %q: %w", id, domain.ErrNotFound)
	}
	return markChanged(ctx, db, TopicClients)
}
