package bunrepo

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
)

// Statements are SQLite statements prepared once on the pool and kept, by their text:
// the batched reads by key (keyedReads) and the group commit's hot writes
// (batchrepo.GroupCommit) run through them instead of parsing their SQL anew each time
// on SQLite's one connection. Safe for concurrent use.
//
// Prepare must not be called from inside a transaction on that one connection: the
// pool would have to hand out the connection the transaction holds, and would wait
// for ever. A transaction runs a statement prepared before it (Prepared, then
// sql.Tx.StmtContext).
type Statements struct {
	db    *sql.DB
	mu    sync.Mutex
	stmts map[string]*sql.Stmt
}

// NewStatements keeps statements prepared on db.
func NewStatements(db *sql.DB) *Statements {
	return &Statements{db: db, stmts: map[string]*sql.Stmt{}}
}

// Prepared returns q's statement if it was prepared; nil otherwise.
func (s *Statements) Prepared(q string) *sql.Stmt {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stmts[q]
}

// Prepare returns q's statement, preparing it first if needed.
func (s *Statements) Prepare(ctx context.Context, q string) (*sql.Stmt, error) {
	if st := s.Prepared(q); st != nil {
		return st, nil
	}
	st, err := s.db.PrepareContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("prepare: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if have := s.stmts[q]; have != nil {
		// Prepared by another caller meanwhile.
		_ = st.Close()
		return have, nil
	}
	s.stmts[q] = st
	return st, nil
}

// count is how many statements are kept, for tests.
func (s *Statements) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.stmts)
}
