package server

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard-voice/switchboard/internal/presence"
	"github.com/switchboard-voice/switchboard/internal/signal"
	"github.com/switchboard-voice/switchboard/internal/sipua"
	"github.com/switchboard-voice/switchboard/internal/store"
	"github.com/switchboard-voice/switchboard/internal/webhook"
)

// startEvents starts the emitter of registration.changed and
// presence.changed events and hooks it to the registrar, the signalling
// hub and presence (none of which wait on the store: the emitter queues).
func (s *Server) startEvents() {
	if _, ok := s.Store.(store.WebhookEvents); !ok {
		return
	}
	s.events = webhook.NewEmitter(s.timed, s.Config.Webhooks.EventQueue, nil, s.Log) // s.timed rings the bell
	s.events.Start()
	o := eventObserver{e: s.events}
	s.SIP.SetRegistrationObserver(o)
	s.Hub.SetSessionObserver(o)
	s.Presence.Observe(o.presenceChanged)
}

// registerEventMetrics counts the events the emitter dropped.
func (s *Server) registerEventMetrics(reg prometheus.Registerer) {
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "switchboard_webhook_events_dropped_total",
		Help: "registration.changed and presence.changed events dropped because the store did not keep up."},
		func() float64 {
			if s.events == nil {
				return 0
			}
			return float64(s.events.Dropped())
		}))
}

// eventObserver turns what the registrar, the hub and presence report
// into events.
type eventObserver struct{ e *webhook.Emitter }

func (o eventObserver) RegistrationChanged(c sipua.RegistrationChange) {
	d := &webhook.Registration{Object: "registration", UserID: string(c.Contact.User), AccountID: string(c.Account),
		Device: webhook.DeviceSIP, State: c.State, Contact: c.Contact.URI, Transport: c.Contact.Transport, Source: c.Contact.Source}
	if c.State == sipua.RegRegistered {
		at := webhook.RFC3339(c.Contact.Expires)
		d.ExpiresAt = &at
	}
	o.e.Emit(store.WebhookEvent{Type: store.EventRegistrationChanged, AccountID: c.Account, Data: d}, c.Contact.User,
		func(ev *store.WebhookEvent, u *store.User) { d.AccountID = string(u.AccountID) })
}

func (o eventObserver) SessionChanged(c signal.SessionChange) {
	d := &webhook.Registration{Object: "registration", UserID: string(c.User), AccountID: string(c.Account),
		Device: webhook.DeviceBrowser, State: webhook.SessionClosed, SessionID: string(c.Session), Transport: "websocket"}
	if c.Up {
		d.State = webhook.SessionConnected
	}
	if c.Source.IsValid() {
		d.Source = c.Source.String()
	}
	o.e.Emit(store.WebhookEvent{Type: store.EventRegistrationChanged, AccountID: c.Account, Data: d}, c.User, nil)
}

func (o eventObserver) presenceChanged(cur presence.State, prev presence.Summary) {
	d := &webhook.Presence{Object: "presence", UserID: string(cur.User), AccountID: string(cur.Account), Name: cur.Name,
		Extension: cur.Extension, PresenceSummary: webhook.PresenceSummary{Status: string(cur.Status),
			DoNotDisturb: cur.DoNotDisturb, StatusText: cur.StatusText},
		UpdatedAt: webhook.RFC3339(cur.UpdatedAt), Previous: webhook.PresenceSummary{Status: string(prev.Status),
			DoNotDisturb: prev.DoNotDisturb, StatusText: prev.StatusText}}
	// A user presence never loaded: its name, do not disturb and status
	// text come from the store, on the emitter's goroutine.
	o.e.Emit(store.WebhookEvent{Type: store.EventPresenceChanged, AccountID: cur.Account, Data: d}, cur.User,
		func(ev *store.WebhookEvent, u *store.User) {
			d.AccountID, d.Name, d.Extension = string(u.AccountID), u.Name, u.Extension
			d.DoNotDisturb, d.StatusText = u.DoNotDisturb, u.StatusText
			d.Previous.DoNotDisturb, d.Previous.StatusText = u.DoNotDisturb, u.StatusText // only the status moved
		})
}
