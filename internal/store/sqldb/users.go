package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/secrets"
	"github.com/switchboard-voice/switchboard/internal/store"
)

// userCols leaves out sip_password: since 0005 only HA1s are kept.
const userCols = "id, account_id, name, extension, sip_username, sip_ha1_md5, sip_ha1_sha256, " +
	"do_not_disturb, can_call_external, ring_timeout_seconds, token_generation, created_at, updated_at, status_text, role"

// CreateUser inserts u, filling in its ID and timestamps when unset. Of
// SIPPassword only the HA1s are stored (u.SIPHA1 is set); u.SIPPassword is
// left as given, for the caller to show once.
func (d *DB) CreateUser(ctx context.Context, u *store.User) error {
	if u.ID == "" {
		u.ID = ident.NewUserID()
	}
	if u.CreatedAt.IsZero() {
		u.CreatedAt = now()
	}
	if u.UpdatedAt.IsZero() {
		u.UpdatedAt = u.CreatedAt
	}
	if u.Role == "" {
		u.Role = store.RoleUser
	}
	u.SIPHA1 = secrets.DigestHA1(u.SIPUsername, d.realm, u.SIPPassword)
	md5, sha := d.sealHA1(u.SIPHA1)
	_, err := d.exec(ctx,
		"INSERT INTO users ("+userCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		u.ID, u.AccountID, u.Name, u.Extension, u.SIPUsername, md5, sha,
		u.DoNotDisturb, u.CanCallExternal, u.RingTimeoutSeconds, u.TokenGeneration,
		formatTime(u.CreatedAt), formatTime(u.UpdatedAt), u.StatusText, u.Role)
	if err != nil {
		return d.userWriteError(err, u.ID, u.Extension, u.SIPUsername)
	}
	return nil
}

// userWriteError maps a failed insert or update of a user to ErrConflict
// naming the taken value, or wraps it as is.
func (d *DB) userWriteError(err error, id ident.UserID, ext, sipUser string) error {
	if strings.Contains(err.Error(), msgExtByRingGroup) {
		return fmt.Errorf("extension %q is taken by a ring group: %w", ext, store.ErrConflict)
	}
	if !d.isUnique(err) {
		return fmt.Errorf("write user %q: %w", id, err)
	}
	switch {
	case d.uniqueOn(err, "users.sip_username"):
		return fmt.Errorf("sip username %q is taken: %w", sipUser, store.ErrConflict)
	case d.uniqueOn(err, "users.extension"):
		return fmt.Errorf("extension %q is taken: %w", ext, store.ErrConflict)
	}
	return fmt.Errorf("user id %q is taken: %w", id, store.ErrConflict)
}

// GetUser returns the user with the given id.
func (d *DB) GetUser(ctx context.Context, id ident.UserID) (*store.User, error) {
	return d.getUser(ctx, "user", id, "id = ?", id)
}

// GetUserByExtension returns the user of account with extension ext.
func (d *DB) GetUserByExtension(ctx context.Context, account ident.AccountID, ext string) (*store.User, error) {
	return d.getUser(ctx, "extension", ext, "account_id = ? AND extension = ?", account, ext)
}

// GetUserBySIPUsername returns the user whose SIP username is username.
func (d *DB) GetUserBySIPUsername(ctx context.Context, username string) (*store.User, error) {
	if username == "" {
		return nil, fmt.Errorf("sip username %q: %w", username, store.ErrNotFound)
	}
	return d.getUser(ctx, "sip username", username, "sip_username = ?", username)
}

func (d *DB) getUser(ctx context.Context, what string, key any, where string, args ...any) (*store.User, error) {
	row := d.queryRow(ctx, "SELECT "+userCols+" FROM users WHERE "+where, args...)
	u, err := d.scanUser(row)
	if err != nil {
		return nil, notFound(err, what, key)
	}
	return u, nil
}

// ListUsers returns the users of account (all users when account is empty),
// oldest first, and whether more follow.
func (d *DB) ListUsers(ctx context.Context, account ident.AccountID, opt store.ListOptions) ([]store.User, bool, error) {
	q := listQuery[store.User]{table: "users", cols: userCols, scanRow: d.scanUser}
	if account != "" {
		q.where, q.args = []string{"account_id = ?"}, []any{account}
	}
	return q.run(ctx, d, opt)
}

// UpdateUser applies the non-nil fields of p, bumps UpdatedAt and returns
// the updated user. A new SIPPassword is stored as HA1s for the user's
// (new or current) SIP username; a new SIP username without a new password
// clears the HA1s, which were for the old name.
func (d *DB) UpdateUser(ctx context.Context, id ident.UserID, p store.UserPatch) (*store.User, error) {
	tx, err := d.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.rollback() }()
	var ha1 *secrets.HA1
	if p.SIPPassword != nil {
		name := deref(p.SIPUsername)
		if p.SIPUsername == nil {
			if err := tx.queryRow(ctx, "SELECT sip_username FROM users WHERE id = ?", id).Scan(&name); err != nil {
				return nil, notFound(err, "user", id)
			}
		}
		h := secrets.DigestHA1(name, d.realm, *p.SIPPassword)
		ha1 = &h
	}
	sets, args := d.userPatchSets(p, ha1)
	sets = append(sets, "updated_at = ?")
	args = append(args, formatTime(now()), id)
	row := tx.queryRow(ctx,
		"UPDATE users SET "+strings.Join(sets, ", ")+" WHERE id = ? RETURNING "+userCols, args...)
	u, err := d.scanUser(row)
	switch {
	case err == nil:
		return u, tx.commit()
	case errors.Is(err, sql.ErrNoRows):
		return nil, notFound(err, "user", id)
	}
	return nil, d.userWriteError(err, id, deref(p.Extension), deref(p.SIPUsername))
}

// userPatchSets returns the SET clauses and arguments for p's non-nil
// fields, with ha1 the HA1s of a new password.
func (d *DB) userPatchSets(p store.UserPatch, ha1 *secrets.HA1) ([]string, []any) {
	var sets []string
	var args []any
	add := func(col string, v ...any) {
		sets = append(sets, col)
		args = append(args, v...)
	}
	if p.Name != nil {
		add("name = ?", *p.Name)
	}
	if p.Extension != nil {
		add("extension = ?", *p.Extension)
	}
	if p.SIPUsername != nil {
		add("sip_username = ?", *p.SIPUsername)
	}
	switch {
	case ha1 != nil:
		md5, sha := d.sealHA1(*ha1)
		add("sip_ha1_md5 = ?", md5)
		add("sip_ha1_sha256 = ?", sha)
	case p.SIPUsername != nil:
		// SET expressions see the old row: the HA1s go only if the name changes.
		add("sip_ha1_md5 = CASE WHEN sip_username = ? THEN sip_ha1_md5 ELSE '' END", *p.SIPUsername)
		add("sip_ha1_sha256 = CASE WHEN sip_username = ? THEN sip_ha1_sha256 ELSE '' END", *p.SIPUsername)
	}
	if p.DoNotDisturb != nil {
		add("do_not_disturb = ?", *p.DoNotDisturb)
	}
	if p.CanCallExternal != nil {
		add("can_call_external = ?", *p.CanCallExternal)
	}
	if p.RingTimeoutSeconds != nil {
		add("ring_timeout_seconds = ?", *p.RingTimeoutSeconds)
	}
	if p.StatusText != nil {
		add("status_text = ?", *p.StatusText)
	}
	if p.Role != nil {
		add("role = ?", *p.Role)
	}
	return sets, args
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// DeleteUser removes the user; their phone numbers are un-routed by the
// foreign key's ON DELETE SET NULL, their follow-me goes by ON DELETE
// CASCADE, and a trigger takes them out of ring groups.
func (d *DB) DeleteUser(ctx context.Context, id ident.UserID) error {
	return d.execOne(ctx, "user", id, "DELETE FROM users WHERE id = ?", id)
}

// BumpTokenGeneration increments and returns the user's token generation.
func (d *DB) BumpTokenGeneration(ctx context.Context, id ident.UserID) (int64, error) {
	var gen int64
	err := d.queryRow(ctx,
		`UPDATE users SET token_generation = token_generation + 1, updated_at = ?
		 WHERE id = ? RETURNING token_generation`, formatTime(now()), id).Scan(&gen)
	if err != nil {
		return 0, notFound(err, "user", id)
	}
	return gen, nil
}

func (d *DB) scanUser(r rowScanner) (*store.User, error) {
	var u store.User
	var created, updated, md5, sha string
	err := r.Scan(&u.ID, &u.AccountID, &u.Name, &u.Extension, &u.SIPUsername, &md5, &sha,
		&u.DoNotDisturb, &u.CanCallExternal, &u.RingTimeoutSeconds, &u.TokenGeneration, &created, &updated, &u.StatusText, &u.Role)
	if err != nil {
		return nil, err
	}
	if u.SIPHA1, err = d.openHA1(md5, sha); err != nil {
		return nil, fmt.Errorf("user %q: %w", u.ID, err)
	}
	if u.CreatedAt, err = parseTime(created); err != nil {
		return nil, err
	}
	if u.UpdatedAt, err = parseTime(updated); err != nil {
		return nil, err
	}
	return &u, nil
}
