package sqldb

import (
	"time"

	"github.com/switchboard-voice/switchboard/internal/store"
)

// Stored times are RFC 3339 in UTC with a variable fraction, so only their
// first 19 characters (whole seconds, "2006-01-02T15:04:05") sort as text;
// substr is the same function in SQLite and PostgreSQL.

// callQueryWhere adds q's conditions to a call-record listing.
func callQueryWhere(q store.CallQuery, where []string, args []any) ([]string, []any) {
	if q.Party != "" {
		where = append(where, "(from_user_id = ? OR to_user_id = ?)")
		args = append(args, q.Party, q.Party)
	}
	if q.Direction != "" {
		where = append(where, "direction = ?")
		args = append(args, q.Direction)
	}
	if q.EndReason != "" {
		where = append(where, "end_reason = ?")
		args = append(args, q.EndReason)
	}
	if !q.From.IsZero() {
		where = append(where, "substr(started_at, 1, 19) >= ?")
		args = append(args, seconds(q.From))
	}
	if !q.To.IsZero() {
		where = append(where, "substr(started_at, 1, 19) < ?")
		args = append(args, seconds(q.To))
	}
	return where, args
}

// seconds is t cut to whole seconds, as the prefix of formatTime.
func seconds(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05")
}
