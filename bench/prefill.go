package bench

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
	"golang.org/x/sync/errgroup"

	"gatehouse/adapter/crypto"
	"gatehouse/adapter/repository/bunrepo"
	"gatehouse/infrastructure/database"
)

// PrefillSizes is how many rows the bulk loader writes.
type PrefillSizes struct {
	Users         int
	RefreshTokens int // live, each with its own token family
	Clients       int
}

// DefaultPrefill is the database of the prefilled runs of make bench.
var DefaultPrefill = PrefillSizes{Users: 1_000_000, RefreshTokens: 1_000_000, Clients: 100_000}

// Prefilled says what the loader wrote, and how to use some of it: every row is
// derived from the seed and its index, so PrefillClient and PrefillRefreshToken give
// the credentials of any of them.
type Prefilled struct {
	Sizes    PrefillSizes
	Seed     string
	Password string // every prefilled user's
	Took     time.Duration
	// Created is when the prefilled rows say they were made; the refresh tokens
	// lead with it, as the server's do (crypto.Random.SortedToken).
	Created time.Time
}

// prefillRTTL is how long the prefilled refresh tokens (and families) live: all are
// live during any run.
const prefillRTTL = 30 * 24 * time.Hour

// prefillBatch is the rows of one multi-row INSERT; prefillTx the statements of one
// transaction.
const (
	prefillBatch = 1000
	prefillTx    = 50
)

// PrefillConfig says what to load where.
type PrefillConfig struct {
	DatabaseURL string // migrated, otherwise empty
	SecretKey   string // the server's GATEHOUSE_SECRET_KEY: secrets are hashed with its key
	Audience    string // the server's default audience (GATEHOUSE_AUDIENCE, else its issuer)
	Sizes       PrefillSizes
	Seed        string // every id and secret derives from it
	Logf        func(string, ...any)
}

// Prefill bulk-loads sizes.Users users, sizes.Clients confidential clients and
// sizes.RefreshTokens live refresh tokens (with their families) into the migrated,
// otherwise empty database at cfg.DatabaseURL, not through the server (a million
// tokens through HTTP would take the better part of an hour): with COPY on
// PostgreSQL, multi-row INSERTs in transactions on SQLite, each table's rows in
// primary-key order with its secondary indexes dropped and rebuilt afterwards from
// their own definitions. The rows have the shapes the server writes (the same
// columns, JSON lists, NULLs and times); the secrets are hashed with the key the
// server derives from cfg.SecretKey, and the users share one argon2id hash of
// Prefilled.Password at the default cost. Refresh token i belongs to user i mod
// Users and client i mod Clients. PostgreSQL loads two tables at a time and is
// analysed afterwards, as autovacuum would have done to tables of this size.
func Prefill(ctx context.Context, cfg PrefillConfig) (Prefilled, error) {
	dbURL, secretKey, sizes, seed, logf := cfg.DatabaseURL, cfg.SecretKey, cfg.Sizes, cfg.Seed, cfg.Logf
	start := time.Now()
	out := Prefilled{Sizes: sizes, Seed: seed, Password: "prefill-" + seed}
	if sizes.RefreshTokens > 0 && (sizes.Users < 1 || sizes.Clients < 1) {
		return out, errors.New("prefilled refresh tokens need at least one user and one client")
	}
	keys, err := crypto.DeriveKeys(secretKey)
	if err != nil {
		return out, err
	}
	hasher, err := crypto.NewSecretHasher(keys)
	if err != nil {
		return out, err
	}
	ph, err := crypto.NewPasswordHasher(crypto.DefaultPasswordParams())
	if err != nil {
		return out, err
	}
	pwHash, err := ph.HashPassword(ctx, out.Password)
	if err != nil {
		return out, err
	}
	loadURL := dbURL
	if strings.HasPrefix(dbURL, "sqlite:") {
		// One connection, so that its pragmas hold for the whole load: no sync per
		// commit (a crash only loses the bench's own database), a page cache that
		// holds the indexes, which the random ids of real rows hit all over, and no
		// foreign-key checks (see insert; the references hold by construction).
		sep := "?"
		if strings.Contains(dbURL, "?") {
			sep = "&"
		}
		loadURL += sep + "max_open_conns=1&_pragma=synchronous(OFF)&_pragma=cache_size(-131072)&_pragma=foreign_keys(0)"
	}
	db, closeDB, err := database.Open(ctx, loadURL)
	if err != nil {
		return out, err
	}
	defer closeDB()
	now := time.Now().UTC().Truncate(time.Microsecond)
	created := now.Add(-time.Hour)
	out.Created = created
	aud, err := json.Marshal([]string{cfg.Audience})
	if err != nil || cfg.Audience == "" {
		return out, errors.New("prefill: the server's default audience is needed (its issuer unless GATEHOUSE_AUDIENCE is set)")
	}
	pgURL := ""
	if db.Dialect().Name() == dialect.PG {
		pgURL = withoutPoolParams(dbURL)
	}
	p := &prefill{db: db, seed: seed, hasher: hasher, pwHash: pwHash, sizes: sizes, audience: string(aud), pgURL: pgURL,
		created: created, expires: created.Add(prefillRTTL)}
	pg := db.Dialect().Name() == dialect.PG
	keyOf := map[string]func(i int) string{
		"users":          func(i int) string { return PrefillUserID(seed, i) },
		"clients":        func(i int) string { id, _ := PrefillClient(seed, i); return id },
		"token_families": p.familyID,
		"refresh_tokens": func(i int) string { tok, _ := PrefillRefreshToken(out, i); return string(hasher.HashToken(tok)) },
	}
	step := func(name string, n int, row func(i int, args []any) []any, cols ...string) func() error {
		return func() error {
			t := time.Now()
			indexes, err := p.dropIndexes(ctx, name)
			if err != nil {
				return fmt.Errorf("prefill %s: indexes: %w", name, err)
			}
			// In primary-key order: every insert then lands at the end of the key's
			// index instead of on a random page of it (users' and clients' keys are
			// random, as the server's are; the families' and refresh tokens' lead with
			// one shared time, and are random after it).
			order := sortedBy(n, keyOf[name])
			inOrder := func(i int, args []any) []any { return row(order[i], args) }
			if err := p.insert(ctx, name, cols, n, inOrder); err != nil {
				return fmt.Errorf("prefill %s: %w", name, err)
			}
			for _, def := range indexes {
				if _, err := db.ExecContext(ctx, def); err != nil {
					return fmt.Errorf("prefill %s: recreate index: %w", name, err)
				}
			}
			if logf != nil {
				logf("%-20s prefilled %d %s in %.1f s", "", n, name, time.Since(t).Seconds())
			}
			return nil
		}
	}
	users := step("users", sizes.Users, p.userRow,
		"id", "username", "email", "email_verified", "password_hash", "created_at", "updated_at", "disabled", "username_skeleton")
	clients := step("clients", sizes.Clients, p.clientRow,
		"id", "name", "secret_hash", "public", "redirect_uris", "grant_types", "scopes", "audiences", "skip_consent",
		"id_token_alg", "created_at", "updated_at", "post_logout_redirect_uris", "require_par", "registration_token_hash",
		"require_dpop", "token_endpoint_auth_method", "jwks", "jwks_uri", "disabled")
	families := step("token_families", sizes.RefreshTokens, p.familyRow,
		"id", "client_id", "user_id", "session_id", "created_at", "expires_at", "revoked_at")
	tokens := step("refresh_tokens", sizes.RefreshTokens, p.tokenRow,
		"hash", "family_id", "client_id", "user_id", "scope", "audience", "auth_time", "nonce", "session_id",
		"created_at", "expires_at", "rotated_at", "revoked_at", "dpop_jkt")
	// Referenced tables first; PostgreSQL takes two writers at a time, SQLite one.
	for _, stage := range [][]func() error{{users, clients}, {families}, {tokens}} {
		if !pg {
			for _, f := range stage {
				if err := f(); err != nil {
					return out, err
				}
			}
			continue
		}
		var g errgroup.Group
		for _, f := range stage {
			g.Go(f)
		}
		if err := g.Wait(); err != nil {
			return out, err
		}
	}
	if pg {
		// The filled tables only, and vacuumed too: the state of a database that has
		// run for a while, whose autovacuum has caught up. A database-wide ANALYZE
		// recorded the still empty authorization_codes as empty; autovacuum, busy with
		// the million-row tables the load had just written, did not analyze it again
		// for minutes, and the prepared statements of the code exchange kept a
		// generic plan that scanned the whole table once the runs before it had filled
		// it (BENCHMARKS.md). The empty tables are left as a fresh database has them.
		if _, err := db.ExecContext(ctx, "VACUUM (ANALYZE) users, clients, token_families, refresh_tokens"); err != nil {
			return out, fmt.Errorf("prefill: vacuum and analyze: %w", err)
		}
		// The load wrote gigabytes of WAL; without a checkpoint now, the one it
		// triggers lands in the measured runs and bills its I/O to whichever
		// endpoint commits then. Needs a superuser (or pg_checkpoint); without one
		// the run goes on as before.
		if _, err := db.ExecContext(ctx, "CHECKPOINT"); err != nil && logf != nil {
			logf("%-20s prefill: CHECKPOINT refused (%v); a checkpoint may fall in the measured runs", "", err)
		}
	}
	out.Took = time.Since(start)
	return out, nil
}

type prefill struct {
	db               *bun.DB
	seed             string
	hasher           *crypto.SecretHasher
	pwHash           string
	sizes            PrefillSizes
	audience         string // JSON list, as the grants store it
	created, expires time.Time
	pgURL            string // PostgreSQL: rows go in with COPY on connections of their own
}

// insert writes n rows of table, prefillBatch to a statement, prefillTx statements to
// a transaction. On SQLite the statements are INSERT OR IGNORE on a connection without
// foreign-key checks: a multi-row INSERT that might abort halfway keeps a statement
// journal of every page it changes, which cost the loader most of its time; one that
// cannot abort keeps none. Nothing is ignored in fact (the rows are unique by
// construction, and Prefill counts them afterwards). row appends row i's values (in
// cols' order) to args.
func (p *prefill) insert(ctx context.Context, table string, cols []string, n int, row func(i int, args []any) []any) error {
	if p.pgURL != "" {
		return p.copy(ctx, table, cols, n, row)
	}
	gen := p.db.QueryGen()
	verb := "INSERT INTO "
	if p.db.Dialect().Name() == dialect.SQLite {
		verb = "INSERT OR IGNORE INTO "
	}
	head := verb + table + " (" + strings.Join(cols, ", ") + ") VALUES "
	tuple := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ") + ")"
	var q []byte
	args := make([]any, 0, len(cols))
	for i := 0; i < n; {
		tx, err := p.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		for s := 0; s < prefillTx && i < n; s++ {
			q = append(q[:0], head...)
			for j := 0; j < prefillBatch && i < n; j, i = j+1, i+1 {
				if j > 0 {
					q = append(q, ", "...)
				}
				q = gen.AppendQuery(q, tuple, row(i, args[:0])...)
			}
			if _, err := tx.ExecContext(ctx, string(q)); err != nil {
				_ = tx.Rollback()
				return err
			}
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	var got int
	if err := p.db.NewRaw("SELECT COUNT(*) FROM "+table).Scan(ctx, &got); err != nil {
		return err
	}
	if got != n {
		return fmt.Errorf("%d rows in %s after loading %d into an empty table", got, table, n)
	}
	return nil
}

// copy writes n rows of table with PostgreSQL's COPY (pgx), on a connection of its
// own: it is several times faster than INSERTs, whose text PostgreSQL must parse.
func (p *prefill) copy(ctx context.Context, table string, cols []string, n int, row func(i int, args []any) []any) error {
	conn, err := pgx.Connect(ctx, p.pgURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	// Without the foreign-key triggers (a superuser's session setting; without the
	// right they stay on and the load is slower): the references hold by construction,
	// and each row's three checks were most of the refresh tokens' time.
	_, _ = conn.Exec(ctx, "SET session_replication_role = replica")
	i := 0
	args := make([]any, 0, len(cols))
	got, err := conn.CopyFrom(ctx, pgx.Identifier{table}, cols, pgx.CopyFromFunc(func() ([]any, error) {
		if i == n {
			return nil, nil
		}
		i++
		return row(i-1, args[:0]), nil
	}))
	if err != nil {
		return err
	}
	if got != int64(n) {
		return fmt.Errorf("COPY wrote %d rows of %d", got, n)
	}
	return nil
}

// dropIndexes drops table's secondary indexes (not those of its primary key and
// unique constraints) and returns the statements that recreate them exactly as the
// migrations made them: building an index once over loaded rows is much faster than
// keeping it up to date row by row.
func (p *prefill) dropIndexes(ctx context.Context, table string) ([]string, error) {
	var names, defs []string
	var q string
	if p.db.Dialect().Name() == dialect.PG {
		q = `SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = current_schema() AND i.tablename = ?
			AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)`
	} else {
		q = `SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL`
	}
	rows, err := p.db.QueryContext(ctx, p.db.QueryGen().FormatQuery(q, table))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var name, def string
		if err := rows.Scan(&name, &def); err != nil {
			return nil, err
		}
		names, defs = append(names, name), append(defs, def)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, name := range names {
		if _, err := p.db.ExecContext(ctx, "DROP INDEX "+p.db.QueryGen().FormatQuery("?", bun.Ident(name))); err != nil {
			return nil, err
		}
	}
	return defs, nil
}

// sortedBy returns 0…n-1 ordered by key (the row's primary key; strings compare as
// the databases compare these keys: ASCII text, or bytes).
func sortedBy(n int, key func(i int) string) []int {
	keys := make([]string, n)
	order := make([]int, n)
	for i := range n {
		keys[i], order[i] = key(i), i
	}
	sort.Slice(order, func(a, b int) bool { return keys[order[a]] < keys[order[b]] })
	return order
}

// derive returns 32 bytes that depend only on the seed, a kind and an index.
func (p *prefill) derive(kind string, i int) [32]byte {
	return PrefillDerive(p.seed, kind, i)
}

// PrefillDerive returns 32 bytes that depend only on seed, kind and i.
func PrefillDerive(seed, kind string, i int) [32]byte {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(i))
	return sha256.Sum256([]byte(seed + "\x00" + kind + "\x00" + string(n[:])))
}

var lowerBase32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// PrefillUserID is user i's id: a version 4 UUID, as the server makes them.
func PrefillUserID(seed string, i int) string {
	b := PrefillDerive(seed, "user", i)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:16])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// PrefillUsername is user i's name.
func PrefillUsername(i int) string { return fmt.Sprintf("pf-user-%07d", i) }

// PrefillClient is client i's id and secret: 26 lower-case base32 characters and 43
// base64url ones, as the server makes them.
func PrefillClient(seed string, i int) (id, secret string) {
	b := PrefillDerive(seed, "client", i)
	s := PrefillDerive(seed, "client-secret", i)
	return lowerBase32.EncodeToString(b[:16]), base64.RawURLEncoding.EncodeToString(s[:])
}

// PrefillRefreshToken is refresh token i, and the index of the client it was issued
// to: p.Created in milliseconds then 32 derived bytes, in the sorted alphabet, as the
// server makes them (crypto.Random.SortedToken).
func PrefillRefreshToken(p Prefilled, i int) (token string, client int) {
	b := PrefillDerive(p.Seed, "refresh", i)
	return crypto.TimeLed(p.Created, b[:]), i % p.Sizes.Clients
}

func (p *prefill) userRow(i int, args []any) []any {
	name := PrefillUsername(i)
	return append(args, PrefillUserID(p.seed, i), name, name+"@prefill.example", false, p.pwHash, p.created, p.created, nil,
		bunrepo.UsernameSkeleton(name))
}

// The prefilled clients are confidential, may use every grant the scenarios use,
// and hold the scopes the prefilled tokens carry; NULL where the server writes NULL
// for a zero value (bun's nullzero columns).
const (
	prefillGrants = `["authorization_code","client_credentials","password","refresh_token"]`
	prefillScopes = `["openid","profile","email","offline_access","api:read","api:write"]`
	prefillScope  = `["api:read","offline_access"]`
)

func (p *prefill) clientRow(i int, args []any) []any {
	id, secret := PrefillClient(p.seed, i)
	return append(args, id, fmt.Sprintf("pf-client-%06d", i), p.hasher.HashSecret(secret), false,
		`["https://app.prefill.example/cb"]`, prefillGrants, prefillScopes, "[]", false,
		"RS256", p.created, p.created, "[]", nil, nil, nil, "client_secret_basic", nil, nil, nil)
}

// familyID is family i's id: the time in milliseconds then derived bytes, in the
// sorted alphabet, as the server makes them (ids compare in the order made).
func (p *prefill) familyID(i int) string {
	b := p.derive("family", i)
	return crypto.TimeLed(p.created, b[:10])
}

func (p *prefill) familyRow(i int, args []any) []any {
	clientID, _ := PrefillClient(p.seed, i%p.sizes.Clients)
	return append(args, p.familyID(i), clientID, PrefillUserID(p.seed, i%p.sizes.Users), nil, p.created, p.expires, nil)
}

func (p *prefill) tokenRow(i int, args []any) []any {
	tok, client := PrefillRefreshToken(Prefilled{Seed: p.seed, Sizes: p.sizes, Created: p.created}, i)
	clientID, _ := PrefillClient(p.seed, client)
	return append(args, p.hasher.HashToken(tok), p.familyID(i), clientID, PrefillUserID(p.seed, i%p.sizes.Users),
		prefillScope, p.audience, p.created, "", "", p.created, p.expires, nil, nil, nil)
}
