package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/switchboard-voice/switchboard/internal/ident"
)

// Webhook event types. The call.* ones are emitted by the call core.
const (
	EventCallStarted         = "call.started"
	EventCallRinging         = "call.ringing"
	EventCallAnswered        = "call.answered"
	EventCallTransferred     = "call.transferred"
	EventCallEnded           = "call.ended"
	EventCallQuality         = "call.quality" // a leg's MOS stayed low (QualityAlertView)
	EventRegistrationChanged = "registration.changed"
	EventPresenceChanged     = "presence.changed"
)

// WebhookEventTypes lists every type an endpoint may subscribe to.
var WebhookEventTypes = []string{EventCallStarted, EventCallRinging, EventCallAnswered,
	EventCallTransferred, EventCallEnded, EventRegistrationChanged, EventPresenceChanged, EventCallQuality}

// WebhookEndpoint is where an account's events are POSTed. Secret is the
// "whsec_<base64>" signing secret.
type WebhookEndpoint struct {
	ID        string
	AccountID ident.AccountID
	URL       string
	Events    []string
	Secret    string
	Enabled   bool
	CreatedAt time.Time
	// PreviousSecret, the secret the last rotation replaced, still signs
	// (a second webhook-signature entry) until PreviousUntil.
	PreviousSecret string
	PreviousUntil  time.Time
}

// WebhookEvent is one event for an account's endpoints; ID is stable
// (every delivery and retry carries it as webhook-id).
type WebhookEvent struct {
	ID        string
	Type      string
	AccountID ident.AccountID
	CallID    ident.CallID // empty for events that are not a call's
	At        time.Time
	Data      any
}

// Payload is the event's body: {type, timestamp, data}.
func (e WebhookEvent) Payload() ([]byte, error) {
	return json.Marshal(map[string]any{"type": e.Type, "timestamp": e.At.UTC().Format(time.RFC3339Nano), "data": e.Data})
}

// Delivery statuses.
const (
	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed"
)

// WebhookDelivery is one event on its way to one endpoint.
type WebhookDelivery struct {
	ID            string
	EndpointID    string
	EventID       string
	Type          string
	CallID        ident.CallID
	Payload       []byte
	Status        string
	Attempts      int
	LastError     string
	NextAttemptAt time.Time
	DeliveredAt   *time.Time
	ExpiresAt     time.Time // retries stop here: the delivery fails
	CreatedAt     time.Time
	// URL and Secret are the endpoint's, for the worker; PreviousSecret
	// too while PreviousUntil is ahead (a rotation's grace period).
	URL, Secret    string
	PreviousSecret string
	PreviousUntil  time.Time
}

// WebhookAttempt is the outcome of one delivery attempt: delivered, or
// retried at Next, or failed for good when Next is zero.
type WebhookAttempt struct {
	Delivered bool
	Err       string
	At        time.Time
	Next      time.Time
}

// WebhookEndpoints stores endpoints; every method is scoped to an account
// (another account's endpoint is ErrNotFound).
type WebhookEndpoints interface {
	CreateWebhookEndpoint(ctx context.Context, e *WebhookEndpoint) error
	GetWebhookEndpoint(ctx context.Context, account ident.AccountID, id string) (*WebhookEndpoint, error)
	ListWebhookEndpoints(ctx context.Context, account ident.AccountID) ([]WebhookEndpoint, error)
	UpdateWebhookEndpoint(ctx context.Context, e *WebhookEndpoint) error
	DeleteWebhookEndpoint(ctx context.Context, account ident.AccountID, id string) error
	// RotateWebhookSecret makes secret the endpoint's signing secret; the
	// one it replaces keeps signing until graceUntil (a rotation within
	// the grace period drops the oldest).
	RotateWebhookSecret(ctx context.Context, account ident.AccountID, id, secret string, graceUntil time.Time) (*WebhookEndpoint, error)
}

// WebhookEvents is how events enter the durable outbox.
type WebhookEvents interface {
	// AppendWebhookEvent queues ev for every enabled endpoint of its
	// account subscribed to its type (none: nothing is written).
	AppendWebhookEvent(ctx context.Context, ev WebhookEvent) error
	// UpdateCallRecordWithEvent is UpdateCallRecord and AppendWebhookEvent
	// in one transaction.
	UpdateCallRecordWithEvent(ctx context.Context, r *CallRecord, ev WebhookEvent) error
}

// WebhookOutbox is the durable outbox the delivery worker drains.
type WebhookOutbox interface {
	WebhookEvents
	// DueWebhookDeliveries returns pending deliveries due at q.Now, oldest
	// first, skipping any whose call has an earlier pending delivery to
	// the same endpoint (a call's events go out in order).
	DueWebhookDeliveries(ctx context.Context, q DueQuery) ([]WebhookDelivery, error)
	FinishWebhookAttempt(ctx context.Context, id string, a WebhookAttempt) error
	// ListWebhookDeliveries returns an endpoint's deliveries, newest first.
	ListWebhookDeliveries(ctx context.Context, endpoint string, limit int) ([]WebhookDelivery, error)
	// RedeliverWebhook makes a delivery pending again, due now, retried
	// until expires.
	RedeliverWebhook(ctx context.Context, endpoint, id string, now, expires time.Time) (*WebhookDelivery, error)
}

// DueQuery selects due deliveries: at most Limit, at most PerEndpoint of
// each endpoint (0: no cap), none of the Skip endpoints (busy ones), so
// one endpoint's backlog cannot crowd the others out of a batch.
type DueQuery struct {
	Now         time.Time
	Limit       int
	PerEndpoint int
	Skip        []string
}

// CallView is a call record as webhooks (and the REST API) show it.
type CallView struct {
	Object     string     `json:"object"`
	ID         string     `json:"id"`
	AccountID  string     `json:"account_id"`
	Direction  string     `json:"direction"`
	FromUser   string     `json:"from_user,omitempty"`
	ToUser     string     `json:"to_user,omitempty"`
	From       string     `json:"from"`
	FromName   string     `json:"from_name"`
	To         string     `json:"to"`
	AnsweredBy string     `json:"answered_by,omitempty"`
	Status     string     `json:"status"` // "active" until the record is closed, then "ended"
	StartedAt  string     `json:"started_at"`
	AnsweredAt *string    `json:"answered_at"`
	EndedAt    *string    `json:"ended_at"`
	EndReason  string     `json:"end_reason,omitempty"`
	Transfer   string     `json:"transfer,omitempty"`
	Legs       []LegStats `json:"legs"`
	NodeID     string     `json:"node_id,omitempty"` // the cluster node that owns the call
}

// View returns the record as webhooks and the REST API show it.
func (c CallRecord) View() CallView {
	legs := c.Legs
	if legs == nil {
		legs = []LegStats{}
	}
	status := "active"
	if c.EndedAt != nil {
		status = "ended"
	}
	return CallView{Object: "call", ID: string(c.ID), AccountID: string(c.AccountID), Direction: c.Direction,
		FromUser: string(c.FromUserID), ToUser: string(c.ToUserID), From: c.From, FromName: c.FromName,
		To: c.To, AnsweredBy: c.AnsweredBy, Status: status, StartedAt: rfc3339(c.StartedAt),
		AnsweredAt: optRFC3339(c.AnsweredAt), EndedAt: optRFC3339(c.EndedAt), EndReason: c.EndReason,
		Transfer: c.Transfer, Legs: legs, NodeID: c.NodeID}
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func optRFC3339(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := rfc3339(*t)
	return &s
}
