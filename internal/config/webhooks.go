package config

import (
	"fmt"
	"time"
)

// Webhooks tunes the delivery of webhook events: by default backoff 10 s
// doubling up to 1 h, outbox polled every 1 s, 10 s per attempt.
type Webhooks struct {
	// AllowPrivate lets endpoints resolve to loopback, private, link-local
	// and unspecified addresses (off: such targets are refused at
	// delivery time). For labs and tests.
	AllowPrivate bool `yaml:"allow_private"`
	// AllowHTTPHosts are the host names (or IPs) an endpoint URL may reach
	// over plain http; every other endpoint must be https.
	AllowHTTPHosts []string      `yaml:"allow_http_hosts"`
	BackoffBase    time.Duration `yaml:"backoff_base"`
	BackoffMax     time.Duration `yaml:"backoff_max"`
	Poll           time.Duration `yaml:"poll"`
	Timeout        time.Duration `yaml:"timeout"`
	// PerEndpoint caps one endpoint's attempts in flight (0: 2), so a
	// slow endpoint cannot hold every delivery slot.
	PerEndpoint int `yaml:"per_endpoint"`
	// DeliveryRetention keeps finished deliveries for
	// GET …/deliveries (0: 7 days); EventRetention keeps the event log
	// the events stream replays from (0: 24 h).
	DeliveryRetention time.Duration `yaml:"delivery_retention"`
	EventRetention    time.Duration `yaml:"event_retention"`
	// MaxStreams caps the open GET /v1/events streams per account (0: 5).
	MaxStreams int `yaml:"max_streams"`
	// EventQueue bounds the registration and presence events waiting to
	// be written (0: 4096); past it they are dropped and counted.
	EventQueue int `yaml:"event_queue"`
}

func defaultWebhooks() Webhooks {
	return Webhooks{AllowHTTPHosts: []string{}, BackoffBase: 10 * time.Second, BackoffMax: time.Hour,
		Poll: time.Second, Timeout: 10 * time.Second, PerEndpoint: 2, DeliveryRetention: 7 * 24 * time.Hour,
		EventRetention: 24 * time.Hour, MaxStreams: 5, EventQueue: 4096}
}

func (w Webhooks) validate() []error {
	var errs []error
	for name, d := range map[string]time.Duration{"backoff_base": w.BackoffBase, "backoff_max": w.BackoffMax,
		"poll": w.Poll, "timeout": w.Timeout, "delivery_retention": w.DeliveryRetention, "event_retention": w.EventRetention} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("webhooks.%s: must not be negative (0: the default)", name))
		}
	}
	for name, n := range map[string]int{"per_endpoint": w.PerEndpoint, "max_streams": w.MaxStreams, "event_queue": w.EventQueue} {
		if n < 0 {
			errs = append(errs, fmt.Errorf("webhooks.%s: must not be negative (0: the default)", name))
		}
	}
	if w.BackoffMax > 0 && w.BackoffBase > w.BackoffMax {
		errs = append(errs, fmt.Errorf("webhooks.backoff_base %s: must not exceed backoff_max %s", w.BackoffBase, w.BackoffMax))
	}
	return errs
}
