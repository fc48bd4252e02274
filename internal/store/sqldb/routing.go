package sqldb

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/store"
)

// Messages of the RAISE(ABORT) triggers in 0003_routing.sql.
const (
	msgExtByRingGroup    = "extension taken by a ring group"
	msgExtByUser         = "extension taken by a user"
	msgRingGroupNotFound = "ring group not found"
)

const dialPlanCols = "account_id, extension_length, country, emergency_numbers, emergency_trunk, " +
	"international_allow, max_outbound_calls, emergency_address_required, updated_at"

// GetDialPlan returns the account's dial plan, or store.DefaultDialPlan
// when it never stored one.
func (d *DB) GetDialPlan(ctx context.Context, account ident.AccountID) (*store.DialPlan, error) {
	var p store.DialPlan
	var emergency, intl, updated string
	err := d.queryRow(ctx, "SELECT "+dialPlanCols+" FROM dial_plans WHERE account_id = ?", account).
		Scan(&p.AccountID, &p.ExtensionLength, &p.Country, &emergency, &p.EmergencyTrunk, &intl,
			&p.MaxOutboundCalls, &p.EmergencyAddressRequired, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return store.DefaultDialPlan(account), nil
	}
	if err != nil {
		return nil, fmt.Errorf("get dial plan %q: %w", account, err)
	}
	if err := json.Unmarshal([]byte(emergency), &p.EmergencyNumbers); err != nil {
		return nil, fmt.Errorf("dial plan %q emergency_numbers: %w", account, err)
	}
	if err := json.Unmarshal([]byte(intl), &p.InternationalAllow); err != nil {
		return nil, fmt.Errorf("dial plan %q international_allow: %w", account, err)
	}
	p.UpdatedAt, err = parseTime(updated)
	return &p, err
}

// PutDialPlan stores p as its account's dial plan, replacing any, and sets
// p.UpdatedAt.
func (d *DB) PutDialPlan(ctx context.Context, p *store.DialPlan) error {
	p.UpdatedAt = now()
	_, err := d.exec(ctx, "INSERT INTO dial_plans ("+dialPlanCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "+
		"ON CONFLICT (account_id) DO UPDATE SET extension_length = excluded.extension_length, country = excluded.country, "+
		"emergency_numbers = excluded.emergency_numbers, emergency_trunk = excluded.emergency_trunk, "+
		"international_allow = excluded.international_allow, max_outbound_calls = excluded.max_outbound_calls, "+
		"emergency_address_required = excluded.emergency_address_required, updated_at = excluded.updated_at",
		p.AccountID, p.ExtensionLength, p.Country, jsonList(p.EmergencyNumbers), p.EmergencyTrunk,
		jsonList(p.InternationalAllow), p.MaxOutboundCalls, p.EmergencyAddressRequired, formatTime(p.UpdatedAt))
	if err != nil {
		return fmt.Errorf("put dial plan %q: %w", p.AccountID, err)
	}
	return nil
}

// GetFollowMe returns the user's follow-me, or ErrNotFound when none.
func (d *DB) GetFollowMe(ctx context.Context, user ident.UserID) (*store.FollowMe, error) {
	f := store.FollowMe{UserID: user}
	var steps, updated string
	err := d.queryRow(ctx, "SELECT steps, final_forward, updated_at FROM follow_me WHERE user_id = ?", user).
		Scan(&steps, &f.FinalForward, &updated)
	if err != nil {
		return nil, notFound(err, "follow-me of user", user)
	}
	if err := json.Unmarshal([]byte(steps), &f.Steps); err != nil {
		return nil, fmt.Errorf("follow-me of user %q steps: %w", user, err)
	}
	f.UpdatedAt, err = parseTime(updated)
	return &f, err
}

// PutFollowMe stores f as its user's follow-me, replacing any, and sets
// f.UpdatedAt. It returns ErrNotFound when the user does not exist.
func (d *DB) PutFollowMe(ctx context.Context, f *store.FollowMe) error {
	steps := f.Steps
	if steps == nil {
		steps = []store.FollowMeStep{}
	}
	for i := range steps {
		if steps[i].Targets == nil {
			steps[i].Targets = []string{}
		}
	}
	b, err := json.Marshal(steps)
	if err != nil {
		return err
	}
	f.UpdatedAt = now()
	_, err = d.exec(ctx,
		"INSERT INTO follow_me (user_id, steps, final_forward, updated_at) VALUES (?, ?, ?, ?) "+
			"ON CONFLICT (user_id) DO UPDATE SET steps = excluded.steps, final_forward = excluded.final_forward, "+
			"updated_at = excluded.updated_at",
		f.UserID, string(b), f.FinalForward, formatTime(f.UpdatedAt))
	if d.isForeignKey(err) {
		return fmt.Errorf("user %q not found: %w", f.UserID, store.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("put follow-me of user %q: %w", f.UserID, err)
	}
	return nil
}

// DeleteFollowMe removes the user's follow-me (ErrNotFound when none).
func (d *DB) DeleteFollowMe(ctx context.Context, user ident.UserID) error {
	return d.execOne(ctx, "follow-me of user", user, "DELETE FROM follow_me WHERE user_id = ?", user)
}
