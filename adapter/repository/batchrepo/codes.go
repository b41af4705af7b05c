package batchrepo

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"gatehouse/adapter/repository/bunrepo"
	"gatehouse/usecase"
)

// Codes is bunrepo's code store with a fast path for the code exchange on PostgreSQL
// and SQLite, and the same contract (repotest): the code and what its grant depends on
// are read by a batched query, decide decides, and one atomic write consumes the code
// and starts the grant only while the code is still unused (one pipelined statement on
// PostgreSQL, one write of the group commit on SQLite). Consuming and starting the
// grant together keeps what the revocations rely on: a code is either unused (and a
// revocation voids its family) or its family exists (and a revocation finds it). A
// code already used, unknown, or consumed by another caller meanwhile is left to the
// repository, which decides under the lock.
type Codes struct {
	*bunrepo.CodeRepository
	reads *readBatcher[string, usecase.CodeRedemption] // nil: no fast path (MariaDB)
	pipe  *pgPipeline                                  // PostgreSQL: the token store's
	group *GroupCommit                                 // SQLite
}

var _ usecase.CodeStore = (*Codes)(nil)

// NewCodes wraps inner, a repository over db; on PostgreSQL its writes share the
// pipeline of tokens, so that a redemption and a revocation of its family meet in one
// batch, ordered, rather than in two that wait for each other.
func NewCodes(inner *bunrepo.CodeRepository, tokens *Tokens, group *GroupCommit, db *bun.DB) *Codes {
	c := &Codes{CodeRepository: inner, pipe: tokens.pipe, group: group}
	group.Prepare(consumeCodeSQLite, insertFamilySQLite)
	if c.pipe != nil || tokens.sqlite {
		c.reads = newReadBatcher("select authorization codes", func(ctx context.Context, keys []string) (map[string]usecase.CodeRedemption, error) {
			return inner.CodeRedemptions(ctx, hashesOf(keys))
		})
	}
	return c
}

// RedeemCode: see Codes.
func (c *Codes) RedeemCode(ctx context.Context, hash []byte, now time.Time,
	decide func(usecase.CodeRedemption) (usecase.CodeOutcome, error)) error {
	if c.reads == nil {
		return c.CodeRepository.RedeemCode(ctx, hash, now, decide)
	}
	r, found, err := c.reads.get(ctx, string(hash))
	switch {
	case err != nil:
		return fmt.Errorf("select authorization code: %w", err)
	case !found || r.Code.UsedAt != nil:
		return c.CodeRepository.RedeemCode(ctx, hash, now, decide)
	}
	out, refusal := decide(r)
	if out.RevokeFamily || (out.Grant != nil && out.Grant.Family.ID != r.Code.FamilyID) {
		return c.CodeRepository.RedeemCode(ctx, hash, now, decide)
	}
	consumed, err := c.consume(ctx, hash, now, out.Grant)
	switch {
	case err != nil:
		return err
	case !consumed:
		// Consumed by another caller since it was read: decide again, under the lock.
		return c.CodeRepository.RedeemCode(ctx, hash, now, decide)
	}
	return refusal
}

// consume marks the code used at now and stores g (when not nil), in one atomic step,
// only while the code is unused; false when it was used meanwhile. ErrDuplicate when
// g's family exists (voided meanwhile): nothing is stored.
func (c *Codes) consume(ctx context.Context, hash []byte, now time.Time, g *usecase.NewGrant) (bool, error) {
	if c.pipe != nil {
		q, args := consumeCodePG, []any{now, hash}
		if g != nil {
			args = append(args, bunrepo.FamilyValues(g.Family)...)
			q = consumeCodeStartFamilyPG
			if g.Refresh != nil {
				q = consumeCodeStartGrantPG
				args = append(args, bunrepo.RefreshTokenValues(*g.Refresh)...)
			}
		}
		n, err := c.pipe.exec(ctx, hash, pipelineStmt{q, args})
		if err != nil {
			return false, bunrepo.WrapErr(err, "redeem authorization code")
		}
		return n == 1, nil
	}
	consumed := false
	err := c.group.Write(ctx, func(ctx context.Context, tx bun.Tx) error {
		res, err := c.group.exec(ctx, tx, consumeCodeSQLite, now, hash)
		if err != nil {
			return bunrepo.WrapErr(err, "consume authorization code")
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return err
		}
		if g != nil {
			if _, err := c.group.exec(ctx, tx, insertFamilySQLite, bunrepo.FamilyValues(g.Family)...); err != nil {
				return bunrepo.WrapErr(err, "insert token family %q", g.Family.ID)
			}
			if g.Refresh != nil {
				if _, err := c.group.exec(ctx, tx, insertRefreshTokenQuery, bunrepo.RefreshTokenValues(*g.Refresh)...); err != nil {
					return bunrepo.WrapErr(err, "insert refresh token of family %q", g.Family.ID)
				}
			}
		}
		consumed = true
		return nil
	})
	return consumed, err
}

// The statements of consume on SQLite, each run in the group commit's transaction.
const (
	consumeCodeSQLite  = "UPDATE authorization_codes SET used_at = ? WHERE hash = ? AND used_at IS NULL"
	insertFamilySQLite = "INSERT INTO token_families (" + bunrepo.FamilyColumns + ") VALUES (?, ?, ?, ?, ?, ?)"
)

// The statements of consume on PostgreSQL: each consumes the code ($1 the time, $2 the
// hash) only while it is unused, and starts the grant the use case decided on (the
// family, bunrepo.FamilyColumns, from $3; its first refresh token,
// bunrepo.RefreshTokenColumns, from $9) only when it consumed it. The rows of the last
// insert say whether it did. A duplicate family fails the whole statement, which then
// consumes nothing.
const (
	consumeCodePG  = "UPDATE authorization_codes SET used_at = $1 WHERE hash = $2 AND used_at IS NULL"
	consumeCodeCTE = "WITH upd AS (" + consumeCodePG + " RETURNING 1) "
	familyValuesPG = "SELECT $3::text, $4::text, $5::text, $6::text, $7::timestamptz, $8::timestamptz FROM upd"

	consumeCodeStartFamilyPG = consumeCodeCTE +
		"INSERT INTO token_families (" + bunrepo.FamilyColumns + ") " + familyValuesPG
	consumeCodeStartGrantPG = consumeCodeCTE + ", " +
		"fam AS (INSERT INTO token_families (" + bunrepo.FamilyColumns + ") " + familyValuesPG + " RETURNING 1) " +
		"INSERT INTO refresh_tokens (" + bunrepo.RefreshTokenColumns + ") SELECT $9::bytea, $10::text, $11::text, " +
		"$12::text, $13::text, $14::text, $15::timestamptz, $16::text, $17::text, $18::timestamptz, $19::timestamptz, " +
		"$20::text, $21::text, $22::text FROM fam"
)
