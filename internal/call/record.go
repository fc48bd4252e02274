package call

import (
	"context"
	"log/slog"
	"time"

	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/store"
)

// recorder turns what happens to a call into its call record and writes
// it to the store: it is the record's only writer. Each method is one
// event of the call; those that the store must see at once save.
type recorder struct {
	cur   store.CallRecord
	store store.CallRecords
	log   *slog.Logger
	// series returns the legs' quality series, saved when the call ends
	// (when the store keeps them); nil: none.
	series func() []store.LegQuality
}

// record returns the record as it stands (a copy: read, never write).
func (r *recorder) record() store.CallRecord { return r.cur }

// started creates the record of a call that has just started.
func (r *recorder) started(ctx context.Context, to store.CallRecords, log *slog.Logger, rec store.CallRecord) {
	r.cur, r.store, r.log = rec, to, log
	if err := r.store.CreateCallRecord(ctx, &r.cur); err != nil {
		r.log.Error("call record", "call_id", r.cur.ID, "err", err)
	}
}

// routed notes where the call goes: the first user it reaches, and that
// it left through a trunk.
func (r *recorder) routed(toUser ident.UserID, outbound bool) {
	if toUser != "" && r.cur.ToUserID == "" {
		r.cur.ToUserID = toUser
	}
	if outbound && r.cur.Direction == "internal" {
		r.cur.Direction = "outbound"
	}
}

// answered notes the answer (by a device key, a SIP contact or "echo").
func (r *recorder) answered(at time.Time, by string) {
	r.cur.AnsweredAt, r.cur.AnsweredBy = &at, by
	r.save()
}

// transferred replaces the transfer note; noted extends it. Neither saves.
func (r *recorder) transferred(note string) { r.cur.Transfer = note }
func (r *recorder) noted(more string)       { r.cur.Transfer += more }

// checkpointed keeps the legs' latest stats, so the record's later writes
// carry them too.
func (r *recorder) checkpointed(legs []store.LegStats) { r.cur.Legs = legs }

// ended closes the record with the legs' stats and the reason.
func (r *recorder) ended(reason EndReason, legs []store.LegStats) {
	now := time.Now().UTC()
	r.cur.Legs = legs
	r.cur.EndedAt, r.cur.EndReason = &now, string(reason)
	r.saveEnded(now)
	r.saveQuality()
}

// joinedInto closes a consult call's record whose leg joined went on in
// another call: that leg ends "joined", the call "transferred".
func (r *recorder) joinedInto(note string, legs []store.LegStats, joined ident.LegID) {
	for i := range legs {
		if legs[i].LegID == joined {
			legs[i].EndReason = "joined"
		}
	}
	r.transferred(note)
	r.ended(EndTransferred, legs)
}

// save writes the record as it stands.
func (r *recorder) save() {
	if err := r.store.UpdateCallRecord(context.Background(), &r.cur); err != nil {
		r.log.Error("call record", "call_id", r.cur.ID, "err", err)
	}
}

// saveQuality writes the legs' quality series beside the record.
func (r *recorder) saveQuality() {
	to, ok := r.store.(store.CallQualities)
	if !ok || r.series == nil {
		return
	}
	legs := r.series()
	if len(legs) == 0 {
		return
	}
	if err := to.SaveCallQuality(context.Background(), r.cur.ID, legs); err != nil {
		r.log.Error("call quality", "call_id", r.cur.ID, "err", err)
	}
}

// outbox returns the store's webhook outbox, if it keeps one.
func (r *recorder) outbox() (store.WebhookEvents, bool) {
	o, ok := r.store.(store.WebhookEvents)
	return o, ok
}

// event builds the webhook event typ of the call as it stands.
func (r *recorder) event(typ string, at time.Time) store.WebhookEvent {
	return store.WebhookEvent{Type: typ, AccountID: r.cur.AccountID, CallID: r.cur.ID, At: at, Data: r.cur.View()}
}

// emit queues the webhook event typ (a durable outbox write; delivery
// happens elsewhere, never on the call's goroutine).
func (r *recorder) emit(typ string) { r.emitWith(typ, nil) }

// emitWith is emit with data in place of the record's view (nil: the view).
func (r *recorder) emitWith(typ string, data func(store.CallView) any) {
	o, ok := r.outbox()
	if !ok || r.cur.EndedAt != nil { // nothing follows call.ended
		return
	}
	ev := r.event(typ, time.Now().UTC())
	if data != nil {
		ev.Data = data(r.cur.View())
	}
	if err := o.AppendWebhookEvent(context.Background(), ev); err != nil {
		r.log.Error("webhook event", "call_id", r.cur.ID, "type", typ, "err", err)
	}
}

// saveEnded writes the closed record and its call.ended event in one
// transaction when the store has an outbox.
func (r *recorder) saveEnded(at time.Time) {
	o, ok := r.outbox()
	if !ok {
		r.save()
		return
	}
	if err := o.UpdateCallRecordWithEvent(context.Background(), &r.cur, r.event(store.EventCallEnded, at)); err != nil {
		r.log.Error("call record", "call_id", r.cur.ID, "err", err)
	}
}
