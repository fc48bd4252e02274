package store

import (
	"context"
	"time"

	"github.com/switchboard-voice/switchboard/internal/ident"
)

// StoredEvent is one account event as the event log keeps it: every
// event written through WebhookEvents, subscribed to or not. Seq orders
// the log; Payload is the webhook body ({type, timestamp, data}).
type StoredEvent struct {
	Seq       int64
	ID        string
	Type      string
	AccountID ident.AccountID
	CallID    ident.CallID
	Payload   []byte
	At        time.Time
}

// EventLog is the durable log the events stream (GET /v1/events) reads.
type EventLog interface {
	// EventSeq returns the position of the account's event id;
	// ErrNotFound when it is unknown or pruned.
	EventSeq(ctx context.Context, account ident.AccountID, id string) (int64, error)
	// LastEventSeq returns the position of the account's newest event (0:
	// none).
	LastEventSeq(ctx context.Context, account ident.AccountID) (int64, error)
	// EventsAfter returns at most limit of the account's events after
	// position after, oldest first, of the given types (none: all).
	EventsAfter(ctx context.Context, account ident.AccountID, after int64, types []string, limit int) ([]StoredEvent, error)
}

// PruneResult counts what one prune removed.
type PruneResult struct {
	Deliveries int64 // finished (delivered or failed) deliveries dropped
	Expired    int64 // pending deliveries past their expiry, marked failed
	Events     int64 // event log entries dropped
}

// WebhookMaintenance keeps the outbox and the event log bounded.
type WebhookMaintenance interface {
	// PruneWebhooks marks pending deliveries expired at now as failed,
	// drops finished deliveries created before deliveriesBefore and
	// events created before eventsBefore.
	PruneWebhooks(ctx context.Context, now, deliveriesBefore, eventsBefore time.Time) (PruneResult, error)
}
