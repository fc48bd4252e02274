package sqldb

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/switchboard-voice/switchboard/internal/secrets"
)

// DefaultRealm is the SIP realm of a store opened without WithSecrets:
// config.Default's, so tests that open a store directly agree with a
// default SIP user agent.
const DefaultRealm = "switchboard"

// Option configures a store (the engines' Open pass theirs on).
type Option func(*secretsAtRest)

// WithSecrets makes the store keep SIP HA1s for realm and seal with box.
// With it, Open also converts rows from before migration 0005 (plaintext
// SIP passwords, trunk passwords and signing key); without it, nothing is
// converted, so a store opened without the master key never seals old
// values with a key that is then lost.
func WithSecrets(realm string, box *secrets.Box) Option {
	return func(s *secretsAtRest) { s.realm, s.box, s.convert = realm, box, true }
}

// secretsAtRest is how a DB keeps credentials: HA1s for realm, and every
// secret (HA1s too) sealed with box.
type secretsAtRest struct {
	realm   string
	box     *secrets.Box
	convert bool
}

func newSecretsAtRest(opts []Option) secretsAtRest {
	s := secretsAtRest{realm: DefaultRealm}
	for _, o := range opts {
		o(&s)
	}
	if s.box == nil {
		s.box = secrets.NewEphemeralBox()
		s.convert = false
	}
	return s
}

// sealedSettings are the settings kept with SetSecret; before 0005 they
// were plain settings.
var sealedSettings = []string{"jwt_secret"}

// sealHA1 returns the sealed column values of h.
func (s *secretsAtRest) sealHA1(h secrets.HA1) (md5, sha256 string) {
	return s.box.Seal(h.MD5), s.box.Seal(h.SHA256)
}

// openHA1 opens the stored column values of an HA1.
func (s *secretsAtRest) openHA1(md5, sha256 string) (secrets.HA1, error) {
	var h secrets.HA1
	var err error
	if h.MD5, err = s.box.Open(md5); err != nil {
		return h, fmt.Errorf("sip credentials: %w", err)
	}
	if h.SHA256, err = s.box.Open(sha256); err != nil {
		return h, fmt.Errorf("sip credentials: %w", err)
	}
	return h, nil
}

// convertSecrets turns the plaintext secrets of rows written before 0005
// (or by an older binary since) into HA1s and sealed values, in one
// transaction on one connection, which the dialect may scrub around (SQLite
// deletes securely and vacuums, so no plaintext is left in free pages or
// the WAL).
func (d *DB) convertSecrets(ctx context.Context) error {
	if !d.convert {
		return nil
	}
	conn, err := d.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	after := func(bool) {}
	if d.dl.ScrubSecrets != nil {
		if after, err = d.dl.ScrubSecrets(ctx, conn); err != nil {
			return err
		}
	}
	t, err := conn.BeginTx(ctx, nil)
	if err != nil {
		after(false)
		return err
	}
	defer func() { _ = t.Rollback() }()
	n, err := d.convertRows(ctx, &tx{tx: t, dl: d.dl})
	if err != nil {
		after(false)
		return fmt.Errorf("convert secrets at rest: %w", err)
	}
	if err := t.Commit(); err != nil {
		after(false)
		return err
	}
	after(n > 0)
	return nil
}

const notSealed = "<> '' AND substr(%[1]s, 1, 8) <> 'sealed1:'"

func (d *DB) convertRows(ctx context.Context, tx *tx) (int, error) {
	type row struct{ id, a, b string }
	query := func(q string, args ...any) ([]row, error) {
		rs, err := tx.query(ctx, q, args...)
		if err != nil {
			return nil, err
		}
		defer rs.Close()
		var out []row
		for rs.Next() {
			var r row
			if err := rs.Scan(&r.id, &r.a, &r.b); err != nil {
				return nil, err
			}
			out = append(out, r)
		}
		return out, rs.Err()
	}
	n := 0
	users, err := query("SELECT id, sip_username, sip_password FROM users WHERE sip_password <> ''")
	if err != nil {
		return 0, err
	}
	for _, u := range users {
		md5, sha := d.sealHA1(secrets.DigestHA1(u.a, d.realm, u.b))
		if _, err := tx.exec(ctx, "UPDATE users SET sip_password = '', sip_ha1_md5 = ?, sip_ha1_sha256 = ? WHERE id = ?",
			md5, sha, u.id); err != nil {
			return 0, err
		}
		n++
	}
	trunks, err := query("SELECT id, password, inbound_password FROM trunks WHERE (password " + fmt.Sprintf(notSealed, "password") +
		") OR (inbound_password " + fmt.Sprintf(notSealed, "inbound_password") + ")")
	if err != nil {
		return 0, err
	}
	for _, t := range trunks {
		if _, err := tx.exec(ctx, "UPDATE trunks SET password = ?, inbound_password = ? WHERE id = ?",
			d.sealIfPlain(t.a), d.sealIfPlain(t.b), t.id); err != nil {
			return 0, err
		}
		n++
	}
	for _, key := range sealedSettings {
		var v string
		err := tx.queryRow(ctx, "SELECT value FROM settings WHERE key = ? AND value "+fmt.Sprintf(notSealed, "value"), key).Scan(&v)
		if err == sql.ErrNoRows {
			continue
		} else if err != nil {
			return 0, err
		}
		if _, err := tx.exec(ctx, "UPDATE settings SET value = ? WHERE key = ?", d.box.Seal(v), key); err != nil {
			return 0, err
		}
		n++
	}
	return n, nil
}

// openStored opens a stored secret; a value that is not sealed is from
// before 0005 and not converted yet (a store opened without WithSecrets),
// and is read as is.
func (s *secretsAtRest) openStored(v string) (string, error) {
	if !secrets.IsSealed(v) {
		return v, nil
	}
	return s.box.Open(v)
}

func (s *secretsAtRest) sealIfPlain(v string) string {
	if secrets.IsSealed(v) {
		return v
	}
	return s.box.Seal(v)
}
