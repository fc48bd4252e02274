package sqldb

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
	"sync"
)

// Dialect is what differs between the engines behind a DB. The engine
// packages (sqlite, postgres) fill it in; the store code writes portable
// SQL with "?" placeholders, INSERT … ON CONFLICT upserts and TEXT times,
// and asks the dialect for the rest.
type Dialect struct {
	// Name names the engine in errors ("sqlite", "postgres").
	Name string
	// Dollar rewrites "?" placeholders as $1, $2, … (Postgres).
	Dollar bool
	// Seq is the column that orders rows by insertion, for paging:
	// SQLite's rowid, or an identity column in Postgres.
	Seq string
	// ForUpdate is appended to a SELECT that must lock the rows it reads
	// until the transaction ends ("" where transactions lock the whole
	// database, as SQLite's do).
	ForUpdate string
	// JSONHas is a condition with one %s (a column holding a JSON array of
	// strings) and one ? (a string): true when the array holds the string.
	JSONHas string
	// RandomHex is an expression for 20 random hex digits, evaluated per row.
	RandomHex string
	// MigrationLock, when set, runs first in every migration transaction so
	// concurrent openers apply each migration once.
	MigrationLock string
	// EventsLock, when set, runs first in every transaction that appends
	// to the event log, and holds until it commits (engines with
	// concurrent writers; SQLite has one writer at a time).
	EventsLock string
	// IsUnique reports a UNIQUE or PRIMARY KEY violation.
	IsUnique func(error) bool
	// IsForeignKey reports a FOREIGN KEY violation.
	IsForeignKey func(error) bool
	// UniqueKey names the violated unique key of a unique violation as
	// "table.column[, table.column]" (it may say more; it is searched).
	UniqueKey func(error) string
	// ScrubSecrets, when set, runs around the conversion of plaintext
	// secrets: before is called on the converting connection first, and
	// the function it returns after the commit (SQLite's secure_delete
	// and VACUUM, so no plaintext is left in free pages).
	ScrubSecrets func(ctx context.Context, conn *sql.Conn) (after func(converted bool), err error)

	rebound sync.Map // query string → rebound query string
}

// rebind returns q with the dialect's placeholders, computed once per
// query string.
func (dl *Dialect) rebind(q string) string {
	if !dl.Dollar {
		return q
	}
	if v, ok := dl.rebound.Load(q); ok {
		return v.(string)
	}
	out := dollarPlaceholders(q)
	dl.rebound.Store(q, out)
	return out
}

// dollarPlaceholders rewrites each "?" outside quotes as $n.
func dollarPlaceholders(q string) string {
	if !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	var quote byte
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}
