package server

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/store"
	"github.com/switchboard-voice/switchboard/internal/webhook"
)

// timedStore is the store as calls and SIP use it, with the latency of
// the operations on their path (looking users and numbers up, writing
// call records) in switchboard_store_seconds{op}.
type timedStore struct {
	store.Store
	seconds *prometheus.HistogramVec
	// bell wakes the events streams after an event was written
	// (webhooks.go); nil: none.
	bell *webhook.Bell
	// node is the cluster node id the call records it creates carry
	// ("" on a single node).
	node string
}

func newTimedStore(st store.Store) timedStore {
	return timedStore{Store: st, seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "switchboard_store_seconds",
		Help:    "Latency of the store operations calls and SIP wait on, by operation.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
	}, []string{"op"})}
}

func (t timedStore) since(op string, start time.Time) {
	t.seconds.WithLabelValues(op).Observe(time.Since(start).Seconds())
}

func (t timedStore) GetUser(ctx context.Context, id ident.UserID) (*store.User, error) {
	defer t.since("get_user", time.Now())
	return t.Store.GetUser(ctx, id)
}

func (t timedStore) GetUserByExtension(ctx context.Context, account ident.AccountID, ext string) (*store.User, error) {
	defer t.since("get_user_by_extension", time.Now())
	return t.Store.GetUserByExtension(ctx, account, ext)
}

func (t timedStore) GetUserBySIPUsername(ctx context.Context, username string) (*store.User, error) {
	defer t.since("get_user_by_sip_username", time.Now())
	return t.Store.GetUserBySIPUsername(ctx, username)
}

func (t timedStore) GetPhoneNumberByNumber(ctx context.Context, number string) (*store.PhoneNumber, error) {
	defer t.since("get_phone_number", time.Now())
	return t.Store.GetPhoneNumberByNumber(ctx, number)
}

func (t timedStore) CreateCallRecord(ctx context.Context, r *store.CallRecord) error {
	defer t.since("create_call_record", time.Now())
	if r.NodeID == "" {
		r.NodeID = t.node
	}
	return t.Store.CreateCallRecord(ctx, r)
}

func (t timedStore) UpdateCallRecord(ctx context.Context, r *store.CallRecord) error {
	defer t.since("update_call_record", time.Now())
	return t.Store.UpdateCallRecord(ctx, r)
}

func (t timedStore) CheckpointCallRecord(ctx context.Context, id ident.CallID, cp store.CallCheckpoint) error {
	defer t.since("checkpoint_call_record", time.Now())
	return t.Store.CheckpointCallRecord(ctx, id, cp)
}

func (t timedStore) SaveCallQuality(ctx context.Context, id ident.CallID, legs []store.LegQuality) error {
	defer t.since("save_call_quality", time.Now())
	return t.Store.SaveCallQuality(ctx, id, legs)
}
