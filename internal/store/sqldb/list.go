package sqldb

import (
	"context"
	"fmt"
	"strings"

	"github.com/switchboard-voice/switchboard/internal/store"
)

// listQuery describes one paged listing of a table in insertion order.
type listQuery[T any] struct {
	table   string   // table name (a constant)
	cols    string   // selected columns, in scan order
	where   []string // extra conditions, ANDed
	args    []any    // arguments of where, in order
	newest  bool     // newest first instead of oldest first
	scanRow func(rowScanner) (*T, error)
}

// run returns at most opt.Limit (clamped) rows after opt.StartingAfter, and
// whether more follow.
func (q listQuery[T]) run(ctx context.Context, d *DB, opt store.ListOptions) ([]T, bool, error) {
	where := append([]string(nil), q.where...)
	args := append([]any(nil), q.args...)
	order := "ASC"
	if q.newest {
		order = "DESC"
	}
	if opt.StartingAfter != "" {
		seq, err := d.cursor(ctx, q.table, opt.StartingAfter)
		if err != nil {
			return nil, false, err
		}
		if q.newest {
			where = append(where, d.dl.Seq+" < ?")
		} else {
			where = append(where, d.dl.Seq+" > ?")
		}
		args = append(args, seq)
	}
	query := "SELECT " + q.cols + " FROM " + q.table
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	limit := clampLimit(opt.Limit)
	query += " ORDER BY " + d.dl.Seq + " " + order + " LIMIT ?"
	args = append(args, limit+1)
	return q.collect(ctx, d, query, args, limit)
}

func (q listQuery[T]) collect(ctx context.Context, d *DB, query string, args []any, limit int) ([]T, bool, error) {
	rows, err := d.query(ctx, query, args...)
	if err != nil {
		return nil, false, fmt.Errorf("list %s: %w", q.table, err)
	}
	defer rows.Close()
	out := make([]T, 0, limit)
	for rows.Next() {
		v, err := q.scanRow(rows)
		if err != nil {
			return nil, false, fmt.Errorf("list %s: %w", q.table, err)
		}
		out = append(out, *v)
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("list %s: %w", q.table, err)
	}
	if len(out) > limit {
		return out[:limit], true, nil
	}
	return out, false, nil
}
