package server

import (
	"context"
	"time"

	"github.com/switchboard-voice/switchboard/internal/store"
	"github.com/switchboard-voice/switchboard/internal/webhook"
)

// startWebhooks starts the webhook delivery worker when the store keeps
// an outbox; Shutdown stops it.
func (s *Server) startWebhooks() {
	o, ok := s.Store.(store.WebhookOutbox)
	if !ok {
		return
	}
	c := s.Config.Webhooks
	s.webhooks = webhook.NewWorker(o, webhook.Options{AllowPrivate: c.AllowPrivate, BackoffBase: c.BackoffBase,
		BackoffMax: c.BackoffMax, Poll: c.Poll, Timeout: c.Timeout, PerEndpoint: c.PerEndpoint,
		DeliveryRetention: c.DeliveryRetention, EventRetention: c.EventRetention}, s.Log)
	s.webhooks.Start()
}

// AppendWebhookEvent and UpdateCallRecordWithEvent let calls write the
// outbox through the timed store.
func (t timedStore) AppendWebhookEvent(ctx context.Context, ev store.WebhookEvent) error {
	o, ok := t.Store.(store.WebhookEvents)
	if !ok {
		return nil
	}
	defer t.since("append_webhook_event", time.Now())
	err := o.AppendWebhookEvent(ctx, ev)
	t.ring(err)
	return err
}

// ring wakes the events streams after a successful event write.
func (t timedStore) ring(err error) {
	if err == nil && t.bell != nil {
		t.bell.Ring()
	}
}

func (t timedStore) UpdateCallRecordWithEvent(ctx context.Context, r *store.CallRecord, ev store.WebhookEvent) error {
	o, ok := t.Store.(store.WebhookEvents)
	if !ok {
		return t.UpdateCallRecord(ctx, r)
	}
	defer t.since("update_call_record", time.Now())
	err := o.UpdateCallRecordWithEvent(ctx, r, ev)
	t.ring(err)
	return err
}
