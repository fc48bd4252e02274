package api

import (
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/store"
	"github.com/switchboard-voice/switchboard/internal/webhook"
)

// redeliverFor is how long a redelivered event is retried.
const redeliverFor = 24 * time.Hour

func (a *API) webhookRoutes(handle func(string, map[string]handler)) {
	handle("/v1/webhook_endpoints", map[string]handler{
		"GET": a.admin(a.listWebhookEndpoints), "POST": a.admin(a.createWebhookEndpoint)})
	handle("/v1/webhook_endpoints/{id}", map[string]handler{"GET": a.admin(a.getWebhookEndpoint),
		"POST": a.admin(a.updateWebhookEndpoint), "PATCH": a.admin(a.updateWebhookEndpoint),
		"DELETE": a.admin(a.deleteWebhookEndpoint)})
	handle("/v1/webhook_endpoints/{id}/deliveries", map[string]handler{"GET": a.admin(a.listWebhookDeliveries)})
	handle("/v1/webhook_endpoints/{id}/rotate_secret", map[string]handler{"POST": a.admin(a.rotateWebhookSecret)})
	handle("/v1/webhook_endpoints/{id}/deliveries/{delivery_id}/redeliver",
		map[string]handler{"POST": a.admin(a.redeliverWebhook)})
}

type webhookEndpointJSON struct {
	Object    string   `json:"object"`
	ID        string   `json:"id"`
	AccountID string   `json:"account_id"`
	URL       string   `json:"url"`
	Events    []string `json:"events"`
	Enabled   bool     `json:"enabled"`
	CreatedAt string   `json:"created_at"`
	Secret    string   `json:"secret,omitempty"` // at create and rotate only
	// PreviousSecretExpiresAt is when the secret replaced by the last
	// rotation stops signing; null outside a grace period.
	PreviousSecretExpiresAt *string `json:"previous_secret_expires_at"`
}

func (a *API) endpointView(e *store.WebhookEndpoint) webhookEndpointJSON {
	v := webhookEndpointJSON{Object: "webhook_endpoint", ID: e.ID, AccountID: string(e.AccountID), URL: e.URL,
		Events: e.Events, Enabled: e.Enabled, CreatedAt: rfc3339(e.CreatedAt)}
	if e.PreviousSecret != "" && e.PreviousUntil.After(a.now()) {
		v.PreviousSecretExpiresAt = optTime(&e.PreviousUntil)
	}
	return v
}

type webhookEndpointInput struct {
	URL     *string   `json:"url"`
	Events  *[]string `json:"events"`
	Enabled *bool     `json:"enabled"`
	Account *string   `json:"account"`
}

func (a *API) webhookStore() (store.WebhookEndpoints, store.WebhookOutbox, error) {
	e, ok1 := a.Store.(store.WebhookEndpoints)
	o, ok2 := a.Store.(store.WebhookOutbox)
	if !ok1 || !ok2 {
		return nil, nil, apiErr(http.StatusNotImplemented, "not_implemented", "this store keeps no webhooks")
	}
	return e, o, nil
}

// checkWebhookURL refuses what could never be delivered: not http(s),
// http to a host not allowed by config, or a literal forbidden address.
func (a *API) checkWebhookURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Hostname() == "" || u.User != nil || u.Fragment != "" || len(raw) > 2048 {
		return unprocessable("url", "invalid_url", "url must be an absolute https URL without credentials or fragment")
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !slices.Contains(a.Webhooks.AllowHTTPHosts, u.Hostname()) {
			return unprocessable("url", "insecure_url", "url must be https (http only for hosts in webhooks.allow_http_hosts)")
		}
	default:
		return unprocessable("url", "invalid_url", "url must be https")
	}
	if ip, err := netip.ParseAddr(u.Hostname()); err == nil && !a.Webhooks.AllowPrivate {
		if why := webhook.Forbidden(ip); why != "" {
			return unprocessable("url", "forbidden_target", "url points to a %s address (webhooks.allow_private is off)", why)
		}
	}
	return nil
}

func checkEvents(events []string) error {
	if len(events) == 0 {
		return unprocessable("events", "invalid_events", "events must list at least one of %s", strings.Join(store.WebhookEventTypes, ", "))
	}
	for _, ev := range events {
		if !slices.Contains(store.WebhookEventTypes, ev) {
			return unprocessable("events", "invalid_events", "unknown event %q (want %s)", ev, strings.Join(store.WebhookEventTypes, ", "))
		}
	}
	return nil
}

func (a *API) createWebhookEndpoint(r *http.Request) (int, any, error) {
	st, _, err := a.webhookStore()
	if err != nil {
		return 0, nil, err
	}
	var in webhookEndpointInput
	if err := decode(r, &in); err != nil {
		return 0, nil, err
	}
	if in.URL == nil {
		return 0, nil, badField("url", "missing_field", "url is required")
	}
	if in.Events == nil {
		return 0, nil, badField("events", "missing_field", "events is required")
	}
	if err := a.checkWebhookURL(*in.URL); err != nil {
		return 0, nil, err
	}
	if err := checkEvents(*in.Events); err != nil {
		return 0, nil, err
	}
	e := store.WebhookEndpoint{AccountID: a.callerAccount(r), URL: *in.URL, Events: slices.Compact(slices.Sorted(slices.Values(*in.Events))),
		Enabled: in.Enabled == nil || *in.Enabled, Secret: webhook.NewSecret()}
	if in.Account != nil && *in.Account != "" {
		if _, err := a.Store.GetAccount(r.Context(), ident.AccountID(*in.Account)); err != nil {
			return 0, nil, unprocessable("account", "account_not_found", "no account %q", *in.Account)
		}
		e.AccountID = ident.AccountID(*in.Account)
	}
	if err := st.CreateWebhookEndpoint(r.Context(), &e); err != nil {
		return 0, nil, err
	}
	out := a.endpointView(&e)
	out.Secret = e.Secret
	return http.StatusCreated, out, nil
}

// endpoint returns the {id} endpoint of the request's account.
func (a *API) endpoint(r *http.Request) (*store.WebhookEndpoint, error) {
	st, _, err := a.webhookStore()
	if err != nil {
		return nil, err
	}
	acct, err := a.requestAccount(r)
	if err != nil {
		return nil, err
	}
	return st.GetWebhookEndpoint(r.Context(), acct, r.PathValue("id"))
}

func (a *API) listWebhookEndpoints(r *http.Request) (int, any, error) {
	st, _, err := a.webhookStore()
	if err != nil {
		return 0, nil, err
	}
	acct, err := a.requestAccount(r)
	if err != nil {
		return 0, nil, err
	}
	list, err := st.ListWebhookEndpoints(r.Context(), acct)
	if err != nil {
		return 0, nil, err
	}
	data := []webhookEndpointJSON{}
	for i := range list {
		data = append(data, a.endpointView(&list[i]))
	}
	return http.StatusOK, map[string]any{"object": "list", "data": data, "has_more": false}, nil
}

func (a *API) getWebhookEndpoint(r *http.Request) (int, any, error) {
	e, err := a.endpoint(r)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, a.endpointView(e), nil
}

func (a *API) updateWebhookEndpoint(r *http.Request) (int, any, error) {
	e, err := a.endpoint(r)
	if err != nil {
		return 0, nil, err
	}
	var in webhookEndpointInput
	if err := decode(r, &in); err != nil {
		return 0, nil, err
	}
	if in.Account != nil {
		return 0, nil, badField("account", "immutable_field", "an endpoint cannot move to another account")
	}
	if in.URL != nil {
		if err := a.checkWebhookURL(*in.URL); err != nil {
			return 0, nil, err
		}
		e.URL = *in.URL
	}
	if in.Events != nil {
		if err := checkEvents(*in.Events); err != nil {
			return 0, nil, err
		}
		e.Events = slices.Compact(slices.Sorted(slices.Values(*in.Events)))
	}
	if in.Enabled != nil {
		e.Enabled = *in.Enabled
	}
	st, _, _ := a.webhookStore()
	if err := st.UpdateWebhookEndpoint(r.Context(), e); err != nil {
		return 0, nil, err
	}
	return http.StatusOK, a.endpointView(e), nil
}

func (a *API) deleteWebhookEndpoint(r *http.Request) (int, any, error) {
	e, err := a.endpoint(r)
	if err != nil {
		return 0, nil, err
	}
	st, _, _ := a.webhookStore()
	if err := st.DeleteWebhookEndpoint(r.Context(), e.AccountID, e.ID); err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"object": "webhook_endpoint", "id": e.ID, "deleted": true}, nil
}

type webhookDeliveryJSON struct {
	Object        string  `json:"object"`
	ID            string  `json:"id"`
	EventID       string  `json:"event_id"`
	Type          string  `json:"type"`
	CallID        string  `json:"call_id,omitempty"`
	Status        string  `json:"status"`
	Attempts      int     `json:"attempts"`
	LastError     string  `json:"last_error,omitempty"`
	NextAttemptAt *string `json:"next_attempt_at"`
	DeliveredAt   *string `json:"delivered_at"`
	CreatedAt     string  `json:"created_at"`
}

func deliveryView(d *store.WebhookDelivery) webhookDeliveryJSON {
	var next *string
	if d.Status == store.DeliveryPending {
		next = optTime(&d.NextAttemptAt)
	}
	return webhookDeliveryJSON{Object: "webhook_delivery", ID: d.ID, EventID: d.EventID, Type: d.Type,
		CallID: string(d.CallID), Status: d.Status, Attempts: d.Attempts, LastError: d.LastError,
		NextAttemptAt: next, DeliveredAt: optTime(d.DeliveredAt), CreatedAt: rfc3339(d.CreatedAt)}
}

func (a *API) listWebhookDeliveries(r *http.Request) (int, any, error) {
	e, err := a.endpoint(r)
	if err != nil {
		return 0, nil, err
	}
	_, o, _ := a.webhookStore()
	list, err := o.ListWebhookDeliveries(r.Context(), e.ID, 0)
	if err != nil {
		return 0, nil, err
	}
	data := []webhookDeliveryJSON{}
	for i := range list {
		data = append(data, deliveryView(&list[i]))
	}
	return http.StatusOK, map[string]any{"object": "list", "data": data}, nil
}

func (a *API) redeliverWebhook(r *http.Request) (int, any, error) {
	e, err := a.endpoint(r)
	if err != nil {
		return 0, nil, err
	}
	_, o, _ := a.webhookStore()
	now := a.now()
	d, err := o.RedeliverWebhook(r.Context(), e.ID, r.PathValue("delivery_id"), now, now.Add(redeliverFor))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusAccepted, deliveryView(d), nil
}

// rotationGrace is how long a rotated-out secret keeps signing, so
// receivers can switch to the new one without dropping a delivery.
const rotationGrace = 24 * time.Hour

func (a *API) rotateWebhookSecret(r *http.Request) (int, any, error) {
	e, err := a.endpoint(r)
	if err != nil {
		return 0, nil, err
	}
	st, _, _ := a.webhookStore()
	secret := webhook.NewSecret()
	e, err = st.RotateWebhookSecret(r.Context(), e.AccountID, e.ID, secret, a.now().Add(rotationGrace))
	if err != nil {
		return 0, nil, err
	}
	out := a.endpointView(e)
	out.Secret = secret
	return http.StatusOK, out, nil
}
