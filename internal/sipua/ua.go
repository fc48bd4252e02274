package sipua

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/switchboard-voice/switchboard/internal/config"
	"github.com/switchboard-voice/switchboard/internal/park"
	"github.com/switchboard-voice/switchboard/internal/store"
)

const settingNonceSecret = "sip_nonce_secret"

// userAgent is our User-Agent and Server header value.
const userAgent = "Switchboard"

// dialTimeout bounds opening a connection for one of our requests.
const dialTimeout = 10 * time.Second

// UA is the server's SIP user agent: UDP and TCP on one address.
type UA struct {
	Registrar *Registrar

	listen  string
	log     *slog.Logger
	ua      *sipgo.UserAgent
	srv     *sipgo.Server
	client  *sipgo.Client
	dialogs *sipgo.DialogUA
	contact sip.ContactHeader
	calls   Placer
	store   Store
	trunks  *trunkTable
	udp     net.PacketConn
	tcp     net.Listener
	tlsLn   net.Listener
	ws      *wsListeners
	tlsCfg  [3]string // listen, cert, key
	wg      sync.WaitGroup
	metrics *sipMetrics
	parser  *sip.Parser // sipgo's, with our wrappers (compat.go)
	subs    *subTable   // dialog-package subscriptions (subscribe.go)
	park    *park.Lot   // park slots BLF keys may watch (park.go); nil: none
	logs    *limitedLog // rate-limited lines about what peers send
	// presence, when set, hears of registrations and serves BLF (presence.go).
	presence Presence
	// parkNode, in a cluster, is a peer's SIP address, where a pickup of a
	// slot parked there is redirected (park.go); nil: none.
	parkNode func(node string) string

	trunkTimeout time.Duration
	qual         qualifier     // OPTIONS pings of the trunks (trunkoptions.go)
	trunkGate    TrunkGate     // nil: a single node registers every trunk
	redirect     func() string // a peer with room's SIP address (redirect.go); nil: none
	rtpTimeout   time.Duration // media.timeout: 0 disables the RTP watchdog

	// edgePeer, in a cluster, says whether an address is a live peer's
	// SIP address: requests routed through this node (edge.go) are
	// proxied only between peers and the phones' flows. nil: no edge.
	edgePeer func(addr string) bool
	edgeDlg  *edgeDialogs // the dialogs the edge Record-Routed, by flow (edgedialog.go)
	flowKey  [32]byte     // signs flow tokens (flowtoken.go)

	mu     sync.Mutex
	active map[string]dialogParty // by Call-ID
}

// Store is what the SIP side reads and keeps.
type Store interface {
	store.Accounts
	store.Users
	store.PhoneNumbers
	store.Settings
	store.Trunks
}

// New prepares the user agent; Start listens.
func New(ctx context.Context, cfg config.Config, st Store, log *slog.Logger) (*UA, error) {
	secret, err := st.SetSettingIfAbsent(ctx, settingNonceSecret, randomSecret())
	if err != nil {
		return nil, fmt.Errorf("sip: nonce secret: %w", err)
	}
	trunks, err := newTrunkTable(cfg.Trunks, func(ctx context.Context, h string) ([]net.IP, error) {
		return net.DefaultResolver.LookupIP(ctx, "ip", h)
	})
	if err != nil {
		log.Warn("sip: trunk inbound addresses", "err", err) // the trunk still takes outbound calls
	}
	u := &UA{listen: cfg.SIPListen, tlsCfg: [3]string{cfg.SIP.TLSListen, cfg.SIP.TLSCertFile, cfg.SIP.TLSKeyFile}, log: log, active: map[string]dialogParty{},
		store: st, trunks: trunks, trunkTimeout: cfg.SIP.TrunkTimeout, qual: qualifier{every: cfg.SIP.TrunkOptionsInterval}, rtpTimeout: cfg.Media.InactivityTimeout(),
		metrics: newSIPMetrics(), logs: newLimitedLog(log, time.Minute), parser: newParser(), subs: newSubTable()}
	_, _ = rand.Read(u.flowKey[:])
	u.Registrar = NewRegistrar(cfg.SIP, st, NewDigest(cfg.SIP.Realm, cfg.SIP.DigestAlgorithms, cfg.SIP.MD5OnlyAgents, []byte(secret)))
	u.Registrar.ua = u
	ua, err := sipgo.NewUA(append([]sipgo.UserAgentOption{sipgo.WithUserAgent(userAgent)}, u.transportOptions()...)...)
	if err != nil {
		return nil, err
	}
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(log))
	if err != nil {
		ua.Close()
		return nil, err
	}
	u.ua, u.srv = ua, srv
	srv.OnRegister(u.guard(u.Registrar.handleRegister))
	srv.OnOptions(u.guard(u.handleOptions))
	srv.OnInvite(u.guard(u.handleInvite))
	srv.OnAck(u.guardAck(u.handleAck))
	srv.OnBye(u.guard(u.handleBye))
	srv.OnInfo(u.guard(u.handleInfo))
	srv.OnRefer(u.guard(u.handleRefer))
	srv.OnSubscribe(u.guard(u.handleSubscribe))
	// A CANCEL that matches an INVITE transaction never gets here (sipgo
	// answers it and ends the INVITE with 487); any other is for nothing
	// we know (RFC 3261 §9.2).
	srv.OnCancel(u.guard(func(r *responder) { r.respond(481, "Call/Transaction Does Not Exist", nil) }))
	srv.OnNoRoute(u.guard(func(r *responder) { r.respond(405, "Method Not Allowed", nil) }))
	return u, nil
}

// SetCalls installs the call manager (before Start).
func (u *UA) SetCalls(p Placer) { u.calls = p }

// goTracked runs fn on a goroutine Close waits for.
func (u *UA) goTracked(fn func()) {
	u.wg.Add(1)
	go func() {
		defer u.wg.Done()
		fn()
	}()
}

// host is the address put in our URIs.
func (u *UA) host() string {
	h, _, _ := net.SplitHostPort(u.Addr())
	return h
}

func randomSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Start listens on UDP and TCP at the configured address (the same port
// for both; with port 0 the UDP port is picked first).
func (u *UA) Start() error {
	udp, tcp, err := listenPair(u.listen)
	if err != nil {
		return err
	}
	u.udp, u.tcp = udp, tcp
	port := udp.LocalAddr().(*net.UDPAddr).Port
	u.contact = sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "switchboard", Host: u.host(), Port: port}}
	client, err := sipgo.NewClient(u.ua, sipgo.WithClientHostname(u.host()), sipgo.WithClientPort(port))
	if err != nil {
		udp.Close()
		tcp.Close()
		return err
	}
	u.client = client
	u.dialogs = &sipgo.DialogUA{Client: client, ContactHDR: u.contact, RewriteContact: true}
	u.wg.Add(2)
	go func() { defer u.wg.Done(); u.serve("udp", u.srv.ServeUDP(udp)) }()
	go func() { defer u.wg.Done(); u.serve("tcp", u.srv.ServeTCP(tcp)) }()
	if u.tlsCfg[0] != "" {
		if err := u.startTLS(u.tlsCfg[0], u.tlsCfg[1], u.tlsCfg[2]); err != nil {
			udp.Close()
			tcp.Close()
			return err
		}
	}
	u.startWS()
	u.log.Info("sip listening", "addr", u.Addr())
	u.syncRegistrations()
	u.startQualify()
	return nil
}

func (u *UA) serve(network string, err error) {
	if err != nil && !errors.Is(err, net.ErrClosed) {
		u.log.Warn("sip transport stopped", "network", network, "err", err)
	}
}

// Addr is the bound SIP address (UDP and TCP share it).
func (u *UA) Addr() string {
	if u.udp == nil {
		return ""
	}
	return u.udp.LocalAddr().String()
}

// Close stops the transports and waits for them.
func (u *UA) Close() error {
	u.closeRegistrations() // un-registers while the transports still run
	u.stopQualify()
	u.subs.close() // final NOTIFYs, likewise
	u.Registrar.stopTimers()
	err := u.srv.Close()
	if u.client != nil {
		u.client.Close()
	}
	if u.udp != nil {
		u.udp.Close()
		u.tcp.Close()
	}
	if u.tlsLn != nil {
		u.tlsLn.Close()
	}
	u.stopWS()
	u.wg.Wait()
	u.ua.Close()
	return err
}

func (u *UA) handleOptions(r *responder) {
	hdrs := []sip.Header{sip.NewHeader("Accept", "application/sdp")}
	if u.PresenceSource() != nil {
		hdrs = append(hdrs, sip.NewHeader("Allow-Events", eventDialog))
	}
	r.respond(200, "OK", nil, hdrs...)
}

// listenPair binds UDP and TCP on one port. With port 0 the UDP port is
// picked first, and picked again when its TCP twin is already taken.
func listenPair(addr string) (net.PacketConn, net.Listener, error) {
	h, port, _ := net.SplitHostPort(addr)
	for try := 0; ; try++ {
		udp, err := net.ListenPacket("udp", addr)
		if err != nil {
			return nil, nil, fmt.Errorf("sip: listen udp %s: %w", addr, err)
		}
		tcp, err := net.Listen("tcp", net.JoinHostPort(h, strconv.Itoa(udp.LocalAddr().(*net.UDPAddr).Port)))
		if err == nil {
			return udp, tcp, nil
		}
		udp.Close()
		if port != "0" || try == 20 {
			return nil, nil, fmt.Errorf("sip: listen tcp: %w", err)
		}
	}
}
