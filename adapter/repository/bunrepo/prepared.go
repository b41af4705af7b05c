package bunrepo

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
)

// preparedStatements prepares each hot statement once and reuses it on every call.
// Bun writes values into the SQL text, so each of its statements is new to the
// database, which parses (and PostgreSQL plans) it again: on SQLite that was a third
// of a refresh-token rotation's time. Queries are written with ? placeholders, which
// become $1, $2… on PostgreSQL; values go to the driver, times through timeArg.
//
// database/sql keeps a statement prepared on each connection that ran it, and a
// transaction on such a connection reuses it (Tx.StmtContext). Preparing needs a
// connection of the pool, which a transaction on SQLite's only connection holds: so
// callers prepare (warm) their statements before they start a transaction, and a
// statement first met inside one is prepared on the transaction alone.
type preparedStatements struct {
	db   *bun.DB
	gate *ConnGate // taken by the statements run outside a transaction

	mu    sync.Mutex
	stmts map[string]*sql.Stmt
}

func newPreparedStatements(db *bun.DB, gate *ConnGate) *preparedStatements {
	return &preparedStatements{db: db, gate: gate, stmts: make(map[string]*sql.Stmt)}
}

// warm prepares the queries not prepared yet. It must not run inside a transaction. A
// failure is not kept, so a database that was down is tried again at the next call.
func (p *preparedStatements) warm(ctx context.Context, queries ...string) error {
	for _, q := range queries {
		p.mu.Lock()
		_, ok := p.stmts[q]
		p.mu.Unlock()
		if ok {
			continue
		}
		s, err := p.db.DB.PrepareContext(ctx, p.text(q))
		if err != nil {
			return wrapErr(err, "prepare statement")
		}
		p.mu.Lock()
		if _, ok := p.stmts[q]; ok {
			_ = s.Close() // prepared meanwhile by another caller
		} else {
			p.stmts[q] = s
		}
		p.mu.Unlock()
	}
	return nil
}

func (p *preparedStatements) text(query string) string {
	if p.db.Dialect().Name() == dialect.PG {
		return dollarPlaceholders(query)
	}
	return query
}

// stmt returns query prepared, for tx when tx is not nil.
func (p *preparedStatements) stmt(ctx context.Context, tx *bun.Tx, query string) (*sql.Stmt, error) {
	p.mu.Lock()
	s, ok := p.stmts[query]
	p.mu.Unlock()
	switch {
	case ok && tx != nil:
		return tx.Tx.StmtContext(ctx, s), nil
	case ok:
		return s, nil
	case tx != nil:
		// Not warmed: prepared for this transaction only (closed when it ends).
		s, err := tx.Tx.PrepareContext(ctx, p.text(query))
		if err != nil {
			return nil, wrapErr(err, "prepare statement")
		}
		return s, nil
	}
	if err := p.warm(ctx, query); err != nil {
		return nil, err
	}
	return p.stmt(ctx, nil, query)
}

// enter takes a place of the gate for a statement outside a transaction (tx nil); a
// statement inside one runs on the connection its transaction holds.
func (p *preparedStatements) enter(ctx context.Context, tx *bun.Tx) (context.Context, func(), error) {
	if tx != nil {
		return ctx, func() {}, nil
	}
	return p.gate.enter(ctx)
}

// exec runs query with args, inside tx when tx is not nil (else through the gate).
func (p *preparedStatements) exec(ctx context.Context, tx *bun.Tx, query string, args ...any) (sql.Result, error) {
	ctx, leave, err := p.enter(ctx, tx)
	if err != nil {
		return nil, err
	}
	defer leave()
	s, err := p.stmt(ctx, tx, query)
	if err != nil {
		return nil, err
	}
	return s.ExecContext(ctx, args...)
}

// scanOne runs query with args, inside tx when tx is not nil (else through the gate),
// and scans its first row into dest as Bun does; sql.ErrNoRows when there is none.
func (p *preparedStatements) scanOne(ctx context.Context, tx *bun.Tx, dest any, query string, args ...any) error {
	ctx, leave, err := p.enter(ctx, tx)
	if err != nil {
		return err
	}
	defer leave()
	rows, err := p.query(ctx, tx, query, args...)
	if err != nil {
		return err
	}
	defer func() { _ = rows.Close() }()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return err
		}
		return sql.ErrNoRows
	}
	if err := p.db.ScanRow(ctx, rows, dest); err != nil {
		return err
	}
	return rows.Close()
}

// scanAll runs the prepared query with args, through the gate, and scans every row
// into dest, a pointer to a slice, as Bun does.
func (p *preparedStatements) scanAll(ctx context.Context, dest any, query string, args ...any) error {
	ctx, leave, err := p.gate.enter(ctx)
	if err != nil {
		return err
	}
	defer leave()
	rows, err := p.query(ctx, nil, query, args...)
	if err != nil {
		return err
	}
	defer func() { _ = rows.Close() }()
	return p.db.ScanRows(ctx, rows, dest)
}

// query runs the prepared query with args, inside tx when tx is not nil.
func (p *preparedStatements) query(ctx context.Context, tx *bun.Tx, query string, args ...any) (*sql.Rows, error) {
	s, err := p.stmt(ctx, tx, query)
	if err != nil {
		return nil, err
	}
	return s.QueryContext(ctx, args...)
}

// timeArg is t as this database compares it with the values Bun stored: SQLite keeps
// times as text in Bun's layout, and compares them as text.
func (p *preparedStatements) timeArg(t time.Time) any {
	if p.db.Dialect().Name() == dialect.SQLite {
		b := p.db.Dialect().AppendTime(nil, t) // '2006-01-02 15:04:05.999999+00:00'
		return string(b[1 : len(b)-1])
	}
	return t
}

// nullTimeArg is timeArg, or NULL for the zero time.
func (p *preparedStatements) nullTimeArg(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return p.timeArg(t)
}

// nullString is s, or NULL when empty.
func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// dollarPlaceholders numbers the ? of query as PostgreSQL's $1, $2… Hot queries are
// constants without ? in literals.
func dollarPlaceholders(query string) string {
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
