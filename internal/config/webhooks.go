package config

import "time"

// Webhooks tunes the delivery of webhook events. Zero durations take the
// defaults: backoff 10 s doubling up to 1 h, outbox polled every 1 s,
// 10 s per attempt.
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
}
