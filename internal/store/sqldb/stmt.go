package sqldb

import (
	"context"
	"database/sql"
	"sync"
)

// maxStatements bounds the statement cache. The store's queries are
// constants or built from a few optional parts (patch fields, IN lists),
// so a few hundred cover them; past the bound a query runs unprepared.
const maxStatements = 512

// stmtCache keeps one prepared statement per query text, so a statement
// is parsed and planned once per pooled connection instead of at every
// call (database/sql prepares a *sql.Stmt again on each connection it
// meets and keeps it there). SQLite's driver prepares every unprepared
// statement afresh; pgx caches on its own, and this costs it nothing.
type stmtCache struct {
	mu       sync.Mutex
	stmts    map[string]*sql.Stmt
	disabled bool // benchmarks measure the store without it
	closed   bool
}

// get returns the statement for q, preparing it on first use; nil means
// run q unprepared (the cache is full, off or closed, or preparing failed:
// the unprepared run then reports the error). A nil cache (a migration's
// transaction) prepares nothing.
func (c *stmtCache) get(ctx context.Context, db *sql.DB, q string) *sql.Stmt {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	if c.disabled || c.closed {
		c.mu.Unlock()
		return nil
	}
	if st, ok := c.stmts[q]; ok {
		c.mu.Unlock()
		return st
	}
	full := len(c.stmts) >= maxStatements
	c.mu.Unlock()
	if full {
		return nil
	}
	// Prepared outside the lock (it may wait for a connection); a
	// concurrent first use of the same query prepares it twice and one
	// copy is closed.
	st, err := db.PrepareContext(context.WithoutCancel(ctx), q)
	if err != nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.stmts[q]; ok || c.closed {
		_ = st.Close()
		return old
	}
	if c.stmts == nil {
		c.stmts = map[string]*sql.Stmt{}
	}
	c.stmts[q] = st
	return st
}

// close closes every cached statement; later queries run unprepared.
func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	for q, st := range c.stmts {
		_ = st.Close()
		delete(c.stmts, q)
	}
}
