// Package config holds the server's configuration: built-in defaults, then a
// YAML file, then environment variables (secrets), then command-line flags,
// and Validate, which reports every problem at once.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/switchboard-voice/switchboard/internal/secrets"
)

// Config is everything `switchboard serve` needs.
type Config struct {
	// Listen is the HTTP/WebSocket address.
	Listen string `yaml:"listen"`
	// SIPListen is the SIP address (UDP and TCP).
	SIPListen string `yaml:"sip_listen"`
	// DataDir holds the SQLite database and other state.
	DataDir string `yaml:"data_dir"`
	// Store chooses the database (SQLite in DataDir, or PostgreSQL).
	Store Store `yaml:"store"`
	// Demo creates demo users at start and prints their tokens.
	Demo bool `yaml:"demo"`
	// AdminKey, when set, is the admin API key (env SWITCHBOARD_ADMIN_KEY
	// only: never written to the config file).
	AdminKey string `yaml:"-"`
	// MasterKey seals trunk passwords, SIP HA1s and the token signing key
	// at rest (env SWITCHBOARD_MASTER_KEY only). Unset, the key is read
	// from MasterKeyFile, made there on first start if missing.
	MasterKey string `yaml:"-"`
	// MasterKeyFile holds the master key; it must be outside DataDir.
	// Empty: DataDir + ".master.key" (./data → ./data.master.key).
	MasterKeyFile string `yaml:"master_key_file"`

	TLS    TLS    `yaml:"tls"`
	HTTP   HTTP   `yaml:"http"`
	Log    Log    `yaml:"log"`
	Signal Signal `yaml:"signal"`
	ICE    ICE    `yaml:"ice"`
	Media  Media  `yaml:"media"`
	Calls  Calls  `yaml:"calls"`
	// Park configures call park (park.go).
	Park Park `yaml:"park"`
	SIP  SIP  `yaml:"sip"`
	// Conference bounds merged calls (conference.go).
	Conference Conference `yaml:"conference"`
	// Shutdown says how SIGTERM drains the server.
	Shutdown Shutdown `yaml:"shutdown"`
	// Trunks connect to upstream PBXs or carriers for E.164 numbers.
	Trunks []Trunk `yaml:"trunks"`
	// Webhooks tunes webhook delivery.
	Webhooks Webhooks `yaml:"webhooks"`
	// Cluster joins other nodes over NATS (cluster.go); off by default.
	Cluster Cluster `yaml:"cluster"`
}

// Shutdown configures draining: on SIGTERM new calls and sessions are
// refused while live calls go on, for at most DrainTimeout; then (or at a
// second SIGTERM) the remaining calls end with reason server-shutdown.
type Shutdown struct {
	DrainTimeout time.Duration `yaml:"drain_timeout"`
}

// Trunk is an upstream SIP peer (a PBX or a carrier) that carries E.164
// numbers both ways.
type Trunk struct {
	// Name identifies the trunk in logs (letters, digits, "-" and "_").
	Name string `yaml:"name"`
	// Host and Port are where calls to the trunk go (port 0: 5060). Port
	// is also the source port the trunk's INVITEs must come from over UDP
	// (see InboundAddresses).
	Host string `yaml:"host"`
	Port int    `yaml:"port"`
	// Transport is udp (default) or tcp.
	Transport string `yaml:"transport"`
	// Username and Password answer the trunk's digest challenges (401 or
	// 407). The password may come from SWITCHBOARD_TRUNK_<NAME>_PASSWORD.
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// Prefixes are the E.164 prefixes (like "+1") the trunk carries; empty
	// carries every number. The longest matching prefix wins, then Priority.
	Prefixes []string `yaml:"prefixes"`
	// Priority orders trunks with equal prefixes: lower is tried first; the
	// next is tried when one fails with 5xx, 408 or no response.
	Priority int `yaml:"priority"`
	// InboundAddresses are where the trunk's INVITEs come from: an IP
	// ("192.0.2.7", "2001:db8::7") or an IP and port ("192.0.2.7:5080",
	// "[2001:db8::7]:5080"). Empty: the host's address(es). Over UDP an
	// INVITE is the trunk's only when both its source IP and its source
	// port match: the entry's port, else Port (default 5060). Over TCP the
	// source port is ephemeral, so only the IP is compared; set InboundAuth
	// to digest where that is not enough. Any other INVITE is challenged
	// like a desk phone's.
	InboundAddresses []string `yaml:"inbound_addresses"`
	// InboundAuth is what an INVITE from the trunk's address must also
	// show: "address" (default) nothing more; "digest" answers it 407 and
	// wants Proxy-Authorization with InboundUsername and InboundPassword
	// (the password may come from SWITCHBOARD_TRUNK_<NAME>_INBOUND_PASSWORD).
	InboundAuth     string `yaml:"inbound_auth"`
	InboundUsername string `yaml:"inbound_username"`
	InboundPassword string `yaml:"inbound_password"`
	// Register sends REGISTER (From/To sip:username@host, answered with
	// the digest credentials) for carriers that want it, refreshed at half
	// the granted expiry. RegisterExpires is the expiry asked for in
	// seconds (0: 600).
	Register        bool `yaml:"register"`
	RegisterExpires int  `yaml:"register_expires"`
}

// Expires is the registration expiry asked for, in seconds.
func (t Trunk) Expires() int {
	if t.RegisterExpires == 0 {
		return 600
	}
	return t.RegisterExpires
}

// Addr is the trunk's host:port.
func (t Trunk) Addr() string {
	port := t.Port
	if port == 0 {
		port = 5060
	}
	return net.JoinHostPort(t.Host, strconv.Itoa(port))
}

// Network is the trunk's transport, "udp" or "tcp".
func (t Trunk) Network() string {
	if t.Transport == "" {
		return "udp"
	}
	return t.Transport
}

// PasswordEnv is the environment variable that sets the trunk's password.
func (t Trunk) PasswordEnv() string {
	return "SWITCHBOARD_TRUNK_" + strings.ToUpper(strings.ReplaceAll(t.Name, "-", "_")) + "_PASSWORD"
}

// InboundPasswordEnv is the environment variable that sets the trunk's
// inbound digest password.
func (t Trunk) InboundPasswordEnv() string {
	return "SWITCHBOARD_TRUNK_" + strings.ToUpper(strings.ReplaceAll(t.Name, "-", "_")) + "_INBOUND_PASSWORD"
}

// Inbound authentication modes (Trunk.InboundAuth; "" is InboundAuthAddress).
const (
	InboundAuthAddress = "address"
	InboundAuthDigest  = "digest"
)

// InboundDigest reports whether the trunk's INVITEs must carry digest
// credentials.
func (t Trunk) InboundDigest() bool { return t.InboundAuth == InboundAuthDigest }

// ParseInboundAddress reads an inbound_addresses entry: an IP address
// (port 0: the trunk's port applies), or an IP address and port.
func ParseInboundAddress(s string) (net.IP, int, error) {
	if ip := net.ParseIP(s); ip != nil {
		return ip, 0, nil
	}
	h, p, err := net.SplitHostPort(s)
	if err != nil {
		return nil, 0, fmt.Errorf("%q is not an IP address, ip:port or [ipv6]:port", s)
	}
	ip := net.ParseIP(h)
	if ip == nil {
		return nil, 0, fmt.Errorf("%q: %q is not an IP address", s, h)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 1 || port > 65535 {
		return nil, 0, fmt.Errorf("%q: bad port", s)
	}
	return ip, port, nil
}

// SIP configures the SIP side: desk phones and (later) trunks.
type SIP struct {
	// Realm is the digest authentication realm desk phones see.
	Realm string `yaml:"realm"`
	// TLSListen, with TLSCertFile and TLSKeyFile, serves SIP over TLS.
	TLSListen   string `yaml:"tls_listen"`
	TLSCertFile string `yaml:"tls_cert_file"`
	TLSKeyFile  string `yaml:"tls_key_file"`
	// TLSRequireSRTP refuses (488) a call over TLS whose offer has no
	// usable SDES-SRTP key (RFC 4568 a=crypto), and never offers plain RTP
	// to a phone registered over TLS. Without it, TLS phones are offered
	// SRTP and plain RTP offers are still answered.
	TLSRequireSRTP bool `yaml:"tls_require_srtp"`
	// DigestAlgorithms are the challenges offered, most preferred first
	// (MD5 and/or SHA-256). See docs/adr/0001-digest-algorithm-order.md.
	DigestAlgorithms []string `yaml:"digest_algorithms"`
	// MD5OnlyAgents lists User-Agent substrings of phones that fail when
	// any challenge is not MD5: they are offered MD5 alone.
	MD5OnlyAgents []string `yaml:"md5_only_agents"`
	// MinExpires and MaxExpires clamp registration lifetimes.
	MinExpires time.Duration `yaml:"min_expires"`
	MaxExpires time.Duration `yaml:"max_expires"`
	// MaxContacts is the number of registered contacts per user.
	MaxContacts int `yaml:"max_contacts"`
	// BanAfter failed authentications from one address within BanWindow
	// ban that address for BanFor.
	BanAfter  int           `yaml:"ban_after"`
	BanWindow time.Duration `yaml:"ban_window"`
	BanFor    time.Duration `yaml:"ban_for"`
	// TrunkTimeout is how long a trunk may leave an INVITE without any
	// response (not even 100 Trying) before the next trunk is tried.
	TrunkTimeout time.Duration `yaml:"trunk_timeout"`
	// TrunkOptionsInterval, when set, pings every trunk with OPTIONS that
	// often and reports whether it answers (GET /v1/trunks: options); 0
	// never pings.
	TrunkOptionsInterval time.Duration `yaml:"trunk_options_interval"`
}

// TLS enables HTTPS/WSS when both files are set.
type TLS struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// Enabled reports whether TLS is configured.
func (t TLS) Enabled() bool { return t.CertFile != "" || t.KeyFile != "" }

// HTTP limits the HTTP listener's connections. The timeouts do not apply
// to WebSockets once upgraded (/v1/webrtc and /v1/sip have their own
// liveness checks). See docs/adr/0003-http-connection-limits.md.
type HTTP struct {
	// ReadHeaderTimeout bounds reading a request's headers; ReadTimeout the
	// whole request, body included.
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	ReadTimeout       time.Duration `yaml:"read_timeout"`
	// WriteTimeout bounds a handler and its response, from the end of the
	// request's headers.
	WriteTimeout time.Duration `yaml:"write_timeout"`
	// IdleTimeout closes a keep-alive connection with no request this long.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// MaxHeaderBytes caps a request's header block.
	MaxHeaderBytes int `yaml:"max_header_bytes"`
	// MaxUnauthenticatedPerSource caps the open connections from one IP
	// address that have not yet carried valid credentials (a request with
	// the admin key or a user token, or an authenticated signalling
	// socket); a connection beyond it is closed at once.
	MaxUnauthenticatedPerSource int `yaml:"max_unauthenticated_per_source"`
	// CORSOrigins are the web origins (scheme://host[:port]) whose pages
	// may call the REST API and open the WebSockets (/v1/webrtc, /v1/sip)
	// from a browser. "*" admits any origin, for the routes a user token
	// opens and the WebSockets only: never for the admin key's routes. The
	// server's own origin is always admitted. Empty: same origin only.
	CORSOrigins []string `yaml:"cors_origins"`
}

// Log configures log/slog output.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text or json
}

// Signal configures the signalling WebSocket.
type Signal struct {
	SessionLimit   int           `yaml:"session_limit"`
	ReconnectGrace time.Duration `yaml:"reconnect_grace"`
	PingInterval   time.Duration `yaml:"ping_interval"`
	PongTimeout    time.Duration `yaml:"pong_timeout"`
	AuthTimeout    time.Duration `yaml:"auth_timeout"`
	MaxFrameBytes  int           `yaml:"max_frame_bytes"`
	WriteQueue     int           `yaml:"write_queue"`
	// WriteTimeout is how long one frame's write may block before the
	// socket is dropped (the client stopped reading).
	WriteTimeout time.Duration `yaml:"write_timeout"`
}

// ICEServer is one STUN or TURN server handed to clients.
type ICEServer struct {
	URLs       []string `yaml:"urls"`
	Username   string   `yaml:"username"`
	Credential string   `yaml:"credential"`
}

// ICE configures the ICE servers clients are told to use.
type ICE struct {
	Servers []ICEServer `yaml:"servers"`
	// TURNSecret, when set, makes TURN credentials time-limited (the TURN REST
	// API scheme shared with coturn's use-auth-secret). Env SWITCHBOARD_TURN_SECRET.
	TURNSecret string        `yaml:"turn_secret"`
	TURNTTL    time.Duration `yaml:"turn_ttl"`
}

// Media configures the server's media endpoints.
type Media struct {
	// PortMin..PortMax is the UDP range for ICE/RTP; ignored when UDPMuxPort is set.
	PortMin uint16 `yaml:"port_min"`
	PortMax uint16 `yaml:"port_max"`
	// UDPMuxPort, when non-zero, carries every WebRTC leg on one UDP port.
	UDPMuxPort int `yaml:"udp_mux_port"`
	// NAT1To1IPs are public addresses announced in place of local ones.
	NAT1To1IPs []string `yaml:"nat_1to1_ips"`
	// IncludeLoopback lets ICE use 127.0.0.1 (tests and single-host demos).
	IncludeLoopback bool `yaml:"include_loopback"`
	// HoldMusic is a WAV file played to held parties; empty: built-in tune.
	HoldMusic string `yaml:"hold_music"`
	// OpusComplexity is the Opus encoder complexity (0-10) of transcoded
	// legs; lower is cheaper (bench/opus).
	OpusComplexity int `yaml:"opus_complexity"`
	// RTPIP is the address SIP parties' RTP is bound to and announced at;
	// empty: the SIP listener's host (or the first non-loopback address).
	RTPIP string `yaml:"rtp_ip"`
	// Timeout ends a call as failed when any leg's media is dead this long:
	// no RTP and no RTCP from a browser leg (a held browser still sends
	// RTCP), no RTP from a SIP leg whose SDP says sendrecv. 0 disables.
	Timeout time.Duration `yaml:"timeout"`
	// RTPTimeout is the deprecated name of Timeout; when set (non-zero) it
	// wins, so old configuration files keep their meaning.
	RTPTimeout time.Duration `yaml:"rtp_timeout"`
}

// defaultOpusComplexity is media.opus_complexity's default, the audio
// package's DefaultOpusComplexity (a media test checks they agree; config
// does not import the codecs).
const defaultOpusComplexity = 5

// defaultMediaTimeout is media.timeout's default.
const defaultMediaTimeout = 30 * time.Second

// InactivityTimeout is the media inactivity timeout in effect: Timeout, or
// the deprecated RTPTimeout when that is set.
func (m Media) InactivityTimeout() time.Duration {
	if m.RTPTimeout != 0 {
		return m.RTPTimeout
	}
	return m.Timeout
}

// Calls configures call handling.
type Calls struct {
	// RingTimeout is how long a user's devices ring when the user sets none.
	RingTimeout time.Duration `yaml:"ring_timeout"`
	// TransferRecall rings the transferor's devices again, for RingTimeout,
	// when a blind transfer's target does not answer, is busy or declines;
	// off, the transferred party's call ends with that reason.
	TransferRecall bool `yaml:"transfer_recall"`
	// Limits bound how fast calls are started and how many run at once.
	Limits CallLimits `yaml:"limits"`
}

// CallLimits bound call creation. Rates are token buckets: Rate calls a
// second on average, Burst at once. The defaults are far above what a
// person dialling does and far below what a script can send.
type CallLimits struct {
	// SocketRate and SocketBurst bound call.create on one signalling
	// socket (device session).
	SocketRate  float64 `yaml:"socket_rate"`
	SocketBurst int     `yaml:"socket_burst"`
	// UserRate and UserBurst bound the calls one user starts from all of
	// its sockets and SIP phones together.
	UserRate  float64 `yaml:"user_rate"`
	UserBurst int     `yaml:"user_burst"`
	// MaxPerAccount caps the calls of one account up at once (each call
	// counted once, whatever its legs); a call beyond it is refused.
	MaxPerAccount int `yaml:"max_per_account"`
}

// Default returns the built-in configuration.
func Default() Config {
	return Config{
		Listen:    "127.0.0.1:8080",
		SIPListen: "127.0.0.1:5060",
		DataDir:   "./data",
		Shutdown:  Shutdown{DrainTimeout: 30 * time.Minute},
		Webhooks:  defaultWebhooks(),
		Store:     defaultStore(),
		Cluster:   Cluster{Heartbeat: 10 * time.Second},
		Park:      defaultPark(),
		Log:       Log{Level: "info", Format: "text"},
		// conference.go
		Conference: defaultConference(),
		HTTP: HTTP{ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
			WriteTimeout: 60 * time.Second, IdleTimeout: 60 * time.Second,
			MaxHeaderBytes: 64 << 10, MaxUnauthenticatedPerSource: 128, CORSOrigins: []string{}},
		Signal: Signal{
			SessionLimit:   10,
			ReconnectGrace: 60 * time.Second,
			PingInterval:   30 * time.Second,
			PongTimeout:    10 * time.Second,
			AuthTimeout:    10 * time.Second,
			MaxFrameBytes:  64 << 10,
			WriteQueue:     256,
			WriteTimeout:   10 * time.Second,
		},
		ICE: ICE{TURNTTL: 24 * time.Hour},
		Media: Media{PortMin: 10000, PortMax: 20000, Timeout: defaultMediaTimeout,
			OpusComplexity: defaultOpusComplexity},
		Calls: Calls{RingTimeout: 30 * time.Second, Limits: CallLimits{SocketRate: 5, SocketBurst: 10,
			UserRate: 10, UserBurst: 20, MaxPerAccount: 1000}},
		SIP: SIP{Realm: "switchboard", TLSRequireSRTP: false, DigestAlgorithms: []string{"MD5", "SHA-256"},
			MD5OnlyAgents: []string{"baresip", "libre", "JsSIP", "SIP.js"}, MinExpires: time.Minute, MaxExpires: time.Hour, MaxContacts: 10,
			BanAfter: 10, BanWindow: time.Minute, BanFor: 10 * time.Minute, TrunkTimeout: 5 * time.Second},
	}
}

// LoadFile overlays the YAML file at path onto c. Unknown keys are errors, so
// a typo does not silently fall back to a default.
func (c *Config) LoadFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil {
		return fmt.Errorf("config: %s: %w", path, err)
	}
	return nil
}

// Env variable names read by ApplyEnv.
const (
	EnvAdminKey   = "SWITCHBOARD_ADMIN_KEY"
	EnvMasterKey  = "SWITCHBOARD_MASTER_KEY"
	EnvListen     = "SWITCHBOARD_LISTEN"
	EnvSIPListen  = "SWITCHBOARD_SIP_LISTEN"
	EnvDataDir    = "SWITCHBOARD_DATA"
	EnvTURNSecret = "SWITCHBOARD_TURN_SECRET"
	EnvLogLevel   = "SWITCHBOARD_LOG_LEVEL"
	EnvDemo       = "SWITCHBOARD_DEMO"
)

// ApplyEnv overlays environment variables (lookup is os.LookupEnv in
// production, a map in tests).
func (c *Config) ApplyEnv(lookup func(string) (string, bool)) error {
	str := map[string]*string{
		EnvAdminKey:   &c.AdminKey,
		EnvMasterKey:  &c.MasterKey,
		EnvListen:     &c.Listen,
		EnvSIPListen:  &c.SIPListen,
		EnvDataDir:    &c.DataDir,
		EnvTURNSecret: &c.ICE.TURNSecret,
		EnvLogLevel:   &c.Log.Level,
		EnvStoreDSN:   &c.Store.DSN,
	}
	for name, dst := range str {
		if v, ok := lookup(name); ok && v != "" {
			*dst = v
		}
	}
	for i := range c.Trunks {
		if v, ok := lookup(c.Trunks[i].PasswordEnv()); ok && v != "" {
			c.Trunks[i].Password = v
		}
		if v, ok := lookup(c.Trunks[i].InboundPasswordEnv()); ok && v != "" {
			c.Trunks[i].InboundPassword = v
		}
	}
	if v, ok := lookup(EnvDemo); ok && v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("config: %s=%q: not a boolean", EnvDemo, v)
		}
		c.Demo = b
	}
	return nil
}

// Validate returns every problem with c, joined, or nil.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	checkAddr := func(name, v string) {
		if _, port, err := net.SplitHostPort(v); err != nil {
			bad("%s %q: want host:port", name, v)
		} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			bad("%s %q: bad port", name, v)
		}
	}
	checkAddr("listen", c.Listen)
	checkAddr("sip_listen", c.SIPListen)
	if c.Shutdown.DrainTimeout < 0 {
		bad("shutdown.drain_timeout: must not be negative (0: end calls at once)")
	}
	if c.DataDir == "" {
		bad("data_dir: must be set")
	}
	errs = append(errs, c.Webhooks.validate()...)
	errs = append(errs, c.Store.validate()...)
	errs = append(errs, c.Cluster.validate()...)
	errs = append(errs, c.Park.validate()...)
	errs = append(errs, c.Conference.validate()...)
	if c.MasterKeyFile != "" && c.DataDir != "" && secrets.Inside(c.MasterKeyFile, c.DataDir) {
		bad("master_key_file %q: must be outside data_dir (a copy of the data would carry its key)", c.MasterKeyFile)
	}
	if c.TLS.Enabled() && (c.TLS.CertFile == "" || c.TLS.KeyFile == "") {
		bad("tls: cert_file and key_file go together")
	}
	switch strings.ToLower(c.Log.Level) {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level %q: want debug, info, warn or error", c.Log.Level)
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		bad("log.format %q: want text or json", c.Log.Format)
	}
	s := c.Signal
	if s.SessionLimit < 1 {
		bad("signal.session_limit: must be at least 1")
	}
	for name, d := range map[string]time.Duration{
		"signal.reconnect_grace": s.ReconnectGrace, "signal.ping_interval": s.PingInterval,
		"signal.pong_timeout": s.PongTimeout, "signal.auth_timeout": s.AuthTimeout,
		"calls.ring_timeout": c.Calls.RingTimeout,
		"sip.min_expires":    c.SIP.MinExpires, "sip.max_expires": c.SIP.MaxExpires,
		"sip.ban_window": c.SIP.BanWindow, "sip.ban_for": c.SIP.BanFor,
		"sip.trunk_timeout":        c.SIP.TrunkTimeout,
		"http.read_header_timeout": c.HTTP.ReadHeaderTimeout, "http.read_timeout": c.HTTP.ReadTimeout,
		"http.write_timeout": c.HTTP.WriteTimeout, "http.idle_timeout": c.HTTP.IdleTimeout,
	} {
		if d <= 0 {
			bad("%s: must be positive", name)
		}
	}
	if d := c.SIP.TrunkOptionsInterval; d != 0 && d < 100*time.Millisecond {
		bad("sip.trunk_options_interval: must be 0 (off) or at least 100ms")
	}
	if c.HTTP.MaxHeaderBytes < 4096 {
		bad("http.max_header_bytes: must be at least 4096")
	}
	if c.HTTP.MaxUnauthenticatedPerSource < 1 {
		bad("http.max_unauthenticated_per_source: must be at least 1")
	}
	for _, o := range c.HTTP.CORSOrigins {
		if _, err := NormalizeOrigin(o); err != nil {
			bad("http.cors_origins: %v", err)
		}
	}
	if s.MaxFrameBytes < 1024 {
		bad("signal.max_frame_bytes: must be at least 1024")
	}
	if s.WriteQueue < 8 {
		bad("signal.write_queue: must be at least 8")
	}
	if s.WriteTimeout < time.Second {
		bad("signal.write_timeout: must be at least 1s")
	}
	if l := c.Calls.Limits; l.SocketRate <= 0 || l.UserRate <= 0 {
		bad("calls.limits.socket_rate and user_rate: must be positive (calls a second)")
	}
	if l := c.Calls.Limits; l.SocketBurst < 1 || l.UserBurst < 1 || l.MaxPerAccount < 1 {
		bad("calls.limits.socket_burst, user_burst and max_per_account: must be at least 1")
	}
	for i, srv := range c.ICE.Servers {
		if len(srv.URLs) == 0 {
			bad("ice.servers[%d]: urls must not be empty", i)
		}
		for _, u := range srv.URLs {
			if !strings.HasPrefix(u, "stun:") && !strings.HasPrefix(u, "turn:") && !strings.HasPrefix(u, "turns:") {
				bad("ice.servers[%d]: url %q: want stun:, turn: or turns:", i, u)
			}
		}
	}
	if c.ICE.TURNSecret != "" && c.ICE.TURNTTL <= 0 {
		bad("ice.turn_ttl: must be positive when turn_secret is set")
	}
	if c.SIP.Realm == "" || strings.ContainsAny(c.SIP.Realm, "\"\r\n") {
		bad("sip.realm %q: must be non-empty, without quotes or line breaks", c.SIP.Realm)
	}
	if c.SIP.TLSListen != "" {
		checkAddr("sip.tls_listen", c.SIP.TLSListen)
		if c.SIP.TLSCertFile == "" || c.SIP.TLSKeyFile == "" {
			bad("sip.tls_listen needs sip.tls_cert_file and sip.tls_key_file")
		}
	}
	if len(c.SIP.DigestAlgorithms) == 0 {
		bad("sip.digest_algorithms: offer at least one of MD5, SHA-256")
	}
	for _, a := range c.SIP.DigestAlgorithms {
		if a != "MD5" && a != "SHA-256" {
			bad("sip.digest_algorithms: %q is not MD5 or SHA-256", a)
		}
	}
	if c.SIP.MaxExpires < c.SIP.MinExpires {
		bad("sip.max_expires must not be below sip.min_expires")
	}
	if c.SIP.MaxContacts < 1 || c.SIP.BanAfter < 1 {
		bad("sip.max_contacts and sip.ban_after must be at least 1")
	}
	errs = append(errs, validateTrunks(c.Trunks)...)
	m := c.Media
	if m.UDPMuxPort == 0 && (m.PortMin == 0 || m.PortMax < m.PortMin) {
		bad("media: port_min..port_max %d..%d is not a range", m.PortMin, m.PortMax)
	}
	if m.UDPMuxPort < 0 || m.UDPMuxPort > 65535 {
		bad("media.udp_mux_port %d: bad port", m.UDPMuxPort)
	}
	if m.Timeout < 0 || m.RTPTimeout < 0 {
		bad("media.timeout: must not be negative (0 disables)")
	}
	if m.RTPTimeout != 0 && m.Timeout != m.RTPTimeout && m.Timeout != defaultMediaTimeout {
		bad("media.rtp_timeout is the old name of media.timeout: set only media.timeout")
	}
	if m.OpusComplexity < 0 || m.OpusComplexity > 10 {
		bad("media.opus_complexity %d: must be 0-10", m.OpusComplexity)
	}
	if m.RTPIP != "" && net.ParseIP(m.RTPIP) == nil {
		bad("media.rtp_ip: %q is not an IP address", m.RTPIP)
	}
	for _, ip := range m.NAT1To1IPs {
		if net.ParseIP(ip) == nil {
			bad("media.nat_1to1_ips: %q is not an IP address", ip)
		}
	}
	return errors.Join(errs...)
}

var (
	trunkNameRe   = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)
	hostnameRe    = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$`)
	prefixRe      = regexp.MustCompile(`^\+[0-9]{1,15}$`)
	sipUsernameRe = regexp.MustCompile(`^[A-Za-z0-9._~!$&'()*+,;=%-]{1,64}$`) // RFC 3261 user chars
)

// validateTrunks checks every trunk; what it accepts ends up in SIP URIs
// and headers, so hosts, prefixes and usernames are strict.
func validateTrunks(trunks []Trunk) []error {
	var errs []error
	names := map[string]bool{}
	for i, t := range trunks {
		bad := func(format string, args ...any) {
			errs = append(errs, fmt.Errorf("trunks[%d] (%s): %s", i, t.Name, fmt.Sprintf(format, args...)))
		}
		if !trunkNameRe.MatchString(t.Name) {
			bad("name %q: want 1-32 letters, digits, - or _", t.Name)
		} else if names[strings.ToLower(t.Name)] {
			bad("name %q is used twice", t.Name)
		}
		names[strings.ToLower(t.Name)] = true
		if t.Host == "" || (net.ParseIP(t.Host) == nil && !hostnameRe.MatchString(t.Host)) {
			bad("host %q: want a hostname or an IP address", t.Host)
		}
		if t.Port < 0 || t.Port > 65535 {
			bad("port %d: bad port", t.Port)
		}
		if t.Transport != "" && t.Transport != "udp" && t.Transport != "tcp" {
			bad("transport %q: want udp or tcp", t.Transport)
		}
		if (t.Username == "") != (t.Password == "") {
			bad("username and password go together")
		}
		if t.Username != "" && !sipUsernameRe.MatchString(t.Username) {
			bad("username %q: not a SIP user name", t.Username)
		}
		if strings.ContainsAny(t.Password, "\r\n\x00") {
			bad("password: must not contain line breaks")
		}
		for _, p := range t.Prefixes {
			if !prefixRe.MatchString(p) {
				bad("prefix %q: want + and 1-15 digits", p)
			}
		}
		if t.Priority < 0 {
			bad("priority %d: must not be negative", t.Priority)
		}
		for _, a := range t.InboundAddresses {
			if _, _, err := ParseInboundAddress(a); err != nil {
				bad("inbound_addresses: %v", err)
			}
		}
		switch t.InboundAuth {
		case "", InboundAuthAddress:
			if t.InboundUsername != "" || t.InboundPassword != "" {
				bad("inbound_username and inbound_password are used only with inbound_auth: digest")
			}
		case InboundAuthDigest:
			if t.InboundUsername == "" || t.InboundPassword == "" {
				bad("inbound_auth digest needs inbound_username and inbound_password (or %s)", t.InboundPasswordEnv())
			}
		default:
			bad("inbound_auth %q: want address or digest", t.InboundAuth)
		}
		if t.InboundUsername != "" && !sipUsernameRe.MatchString(t.InboundUsername) {
			bad("inbound_username %q: not a SIP user name", t.InboundUsername)
		}
		if strings.ContainsAny(t.InboundPassword, "\r\n\x00") {
			bad("inbound_password: must not contain line breaks")
		}
		if t.Register && t.Username == "" {
			bad("register needs a username (and password)")
		}
		if t.RegisterExpires != 0 && (t.RegisterExpires < 60 || t.RegisterExpires > 86400) {
			bad("register_expires %d: want 60 to 86400 seconds", t.RegisterExpires)
		}
	}
	return errs
}

// NormalizeOrigin returns a web origin as browsers send it in Origin
// (lower-case scheme and host, no default port, no path), or "*".
func NormalizeOrigin(o string) (string, error) {
	if o == "*" {
		return o, nil
	}
	u, err := url.Parse(o)
	switch {
	case err != nil:
		return "", fmt.Errorf("%q: %v", o, err)
	case u.Scheme != "http" && u.Scheme != "https":
		return "", fmt.Errorf("%q: want http:// or https:// and a host, or *", o)
	case u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "":
		return "", fmt.Errorf("%q: an origin is a scheme and a host (and port), nothing more", o)
	}
	host := strings.ToLower(u.Host)
	if p := u.Port(); (u.Scheme == "http" && p == "80") || (u.Scheme == "https" && p == "443") {
		host = strings.ToLower(u.Hostname())
		if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
	}
	return u.Scheme + "://" + host, nil
}
