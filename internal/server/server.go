// Package server assembles a running Switchboard from a Config: the store,
// credentials, the signalling hub, the REST API and the listeners. The CLI
// and the end-to-end tests start servers through it.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync/atomic"

	"github.com/switchboard-voice/switchboard/internal/api"
	"github.com/switchboard-voice/switchboard/internal/auth"
	"github.com/switchboard-voice/switchboard/internal/call"
	"github.com/switchboard-voice/switchboard/internal/config"
	"github.com/switchboard-voice/switchboard/internal/httplimit"
	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/media"
	"github.com/switchboard-voice/switchboard/internal/presence"
	"github.com/switchboard-voice/switchboard/internal/route"
	"github.com/switchboard-voice/switchboard/internal/signal"
	"github.com/switchboard-voice/switchboard/internal/sipua"
	"github.com/switchboard-voice/switchboard/internal/store"
	"github.com/switchboard-voice/switchboard/internal/web"
	"github.com/switchboard-voice/switchboard/internal/webhook"
)

// Server is a running Switchboard.
type Server struct {
	Config   config.Config
	Store    store.Store
	Tokens   *auth.Tokens
	Hub      *signal.Hub
	Calls    *call.Manager
	Media    *media.Engine
	SIP      *sipua.UA
	Presence *presence.Hub
	Log      *slog.Logger
	Account  ident.AccountID // the default account
	AdminKey *auth.AdminKey
	// FreshAdminKey is a key generated at this start, to print once.
	FreshAdminKey string
	// Version is the build's version (GET /v1/system); empty: "dev".
	Version string

	callMetrics *callMetrics
	timed       timedStore // the store as calls and SIP use it, timed
	bridges     *bridgeSet
	webhooks    *webhook.Worker   // nil: the store keeps no outbox
	cluster     *clusterLink      // nil: a single node (cluster.go)
	events      *webhook.Emitter  // registration and presence events (events.go); nil: no outbox
	bell        *webhook.Bell     // rung when events are written: wakes the events streams
	streams     *api.EventStreams // GET /v1/events
	recordings  *recordings       // nil: the store keeps none (recordings.go)

	ln       net.Listener
	http     *http.Server
	ready    atomic.Bool
	draining atomic.Bool
	done     chan error
}

// Open prepares a server (store, migrations, secrets, default account)
// without listening, so CLI commands can use the same state.
func Open(ctx context.Context, cfg config.Config, log *slog.Logger) (*Server, error) {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	box, err := masterBox(cfg, log)
	if err != nil {
		return nil, err
	}
	st, err := openStore(ctx, cfg, box)
	if err != nil {
		return nil, err
	}
	s := &Server{Config: cfg, Store: st, Log: log, done: make(chan error, 1)}
	if err := s.init(ctx); err != nil {
		st.Close()
		return nil, err
	}
	return s, nil
}

func (s *Server) init(ctx context.Context) (err error) {
	if s.Tokens, err = auth.NewTokens(ctx, s.Store); err != nil {
		return err
	}
	if s.Account, err = EnsureDefaultAccount(ctx, s.Store); err != nil {
		return err
	}
	return nil
}

// LoadAdminKey reads or creates the admin key (rotate replaces a stored one).
func (s *Server) LoadAdminKey(ctx context.Context, rotate bool) error {
	k, fresh, err := auth.LoadAdminKey(ctx, s.Store, s.Config.AdminKey, rotate)
	if err != nil {
		return err
	}
	s.AdminKey, s.FreshAdminKey = k, fresh
	return nil
}

// EnsureDefaultAccount returns the oldest account, creating "Default" when
// there is none.
func EnsureDefaultAccount(ctx context.Context, st store.Accounts) (ident.AccountID, error) {
	accts, err := st.ListAccounts(ctx)
	if err != nil {
		return "", err
	}
	if len(accts) > 0 {
		return accts[0].ID, nil
	}
	a := store.Account{Name: "Default"}
	if err := st.CreateAccount(ctx, &a); err != nil {
		return "", err
	}
	return a.ID, nil
}

// Start listens and serves until Shutdown.
func (s *Server) Start(ctx context.Context) error {
	if s.AdminKey == nil {
		if err := s.LoadAdminKey(ctx, false); err != nil {
			return err
		}
	}
	if err := s.closeOwnOpenRecords(ctx); err != nil {
		return err
	}
	s.Hub = signal.NewHub(s.Config.Signal, markingTokens{s.Tokens}, s.Log)
	s.Presence = presence.NewHub(s.Store, s.Log)
	if s.Config.Cluster.Enabled() {
		s.cluster = newClusterLink(s)
	}
	lot := newParkLot(s.Config.Park)
	s.Hub.SetPresence(parkPresence{s.presenceSink(), lot})
	engine, err := media.NewEngine(s.Config.Media, s.Log)
	if err != nil {
		return err
	}
	s.Media = engine
	s.timed = newTimedStore(s.Store)
	var peerWithRoom func() string
	var overflow func(call.Device, call.Create, []call.Candidate, func()) bool
	var parkElsewhere func(call.Device, call.Create, []call.Candidate, string, func()) bool
	node := ""
	limits := callLimits(s.Config.Calls.Limits)
	limits.MaxCalls = s.Config.Cluster.MaxCalls
	if s.cluster != nil {
		s.timed.node = s.Config.Cluster.Node()
		peerWithRoom, overflow = s.cluster.peerWithRoom, s.cluster.calls.overflow
		node = s.Config.Cluster.Node()
		limits.MaxCPU, limits.CPU = s.Config.Cluster.MaxCPU, s.cluster.cpu
		if p := s.cluster.setupParks(lot); p != nil {
			parkElsewhere = p.pickupElsewhere
		}
	}
	s.bell = webhook.NewBell()
	s.timed.bell = s.bell
	s.bridges = newBridgeSet()
	s.Calls = call.NewManager(mediaAdapter{engine: engine, cfg: s.Config.Media, rtpIP: rtpIP(s.Config), log: s.Log, bridges: s.bridges,
		prompts: PromptDir(s.Config.DataDir)},
		s.timed, s.callDevices(), s.timed,
		call.Options{RingTimeout: s.Config.Calls.RingTimeout, TransferRecall: s.Config.Calls.TransferRecall,
			Park: lot, ParkTimeout: s.Config.Park.Timeout, ParkElsewhere: parkElsewhere,
			Limits: limits, PeerWithRoom: peerWithRoom, Overflow: overflow, Observer: s.metricsForCalls(),
			Activity: presenceActivity{s.presenceSink()}, Conference: conferenceOptions(s.Config.Conference), Node: node}, s.Log)
	s.Hub.SetHandler(s.callHandler())
	if s.cluster != nil {
		s.Hub.SetMover(sessionMover{s.cluster.calls})
	}
	s.Hub.SetLocator(locator{s.Store})
	if s.SIP, err = sipua.New(ctx, s.Config, s.timed, s.Log); err != nil {
		return err
	}
	s.SIP.SetCalls(s.Calls)
	s.SIP.SetPresence(parkPresence{s.presenceSink(), lot})
	s.SIP.SetPark(lot)
	if s.cluster != nil {
		s.SIP.SetTrunkGate(s.cluster.trunks.gate)
		s.SIP.SetRedirect(s.cluster.peerSIP)
		s.SIP.SetEdgePeers(s.cluster.edge.isPeer)
		if p := s.cluster.parks; p != nil {
			s.SIP.SetParkRedirect(p.sipAddr)
		}
	}
	s.Calls.SetPhones(s.callPhones())
	s.Calls.SetTrunks(s.SIP)
	s.startEvents()
	if err := s.SIP.Start(); err != nil {
		return err
	}
	if err := s.SIP.ReloadTrunks(ctx); err != nil {
		return err
	}
	a := &api.API{Store: s.Store, Tokens: s.Tokens, AdminKey: s.AdminKey, ICE: s.Config.ICE,
		Revoker: s.Hub, Presence: s.presenceSink(), Log: s.Log, Ready: s.ready.Load, Draining: s.draining.Load, DefaultAccount: s.Account, Trunks: sipTrunks{s.SIP}}
	for _, t := range s.Config.Trunks {
		a.ConfigTrunks = append(a.ConfigTrunks, t.Name)
	}
	a.TrunkInfos = func(context.Context) []route.TrunkInfo { return s.SIP.Infos() }
	a.RouteOptions = route.Options{DefaultRing: s.Config.Calls.RingTimeout}
	a.Webhooks = s.Config.Webhooks
	a.LiveQuality = s.Calls.LiveQuality
	s.streams = api.NewEventStreams(s.bell, s.Config.Webhooks.MaxStreams)
	a.Streams = s.streams
	s.liveCalls(a)
	if err := s.startRecordings(ctx, a); err != nil {
		return err
	}
	s.consoleAPI(a)
	if s.Config.Demo {
		a.DemoUsers = s.demoUsers
	}
	mux := a.Handler()
	mux.Handle("/v1/webrtc", s.Hub)
	mux.Handle("/v1/sip", s.SIP.WebSocketHandler()) // SIP over WebSocket (RFC 7118)
	mux.Handle("/", web.Handler())
	s.adminHandlers(mux)
	s.clusterHandlers(mux)

	ln, err := net.Listen("tcp", s.Config.Listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", s.Config.Listen, err)
	}
	s.ln = httplimit.NewListener(ln, s.Config.HTTP.MaxUnauthenticatedPerSource, s.Log)
	h := s.Config.HTTP
	origins := newOriginPolicy(s.Config.HTTP.CORSOrigins).wrap(mux, "/v1/webrtc", "/v1/sip")
	s.http = &http.Server{Handler: accessLog(s.Log, httplimit.Upgrades(origins, "/v1/webrtc", "/v1/sip")),
		ReadHeaderTimeout: h.ReadHeaderTimeout, ReadTimeout: h.ReadTimeout, WriteTimeout: h.WriteTimeout,
		IdleTimeout: h.IdleTimeout, MaxHeaderBytes: h.MaxHeaderBytes, ConnContext: httplimit.ConnContext,
		ErrorLog: slog.NewLogLogger(s.Log.Handler(), slog.LevelWarn)}
	if s.Config.TLS.Enabled() {
		cert, err := tls.LoadX509KeyPair(s.Config.TLS.CertFile, s.Config.TLS.KeyFile)
		if err != nil {
			ln.Close()
			return fmt.Errorf("tls: %w", err)
		}
		s.http.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		s.ln = tls.NewListener(s.ln, s.http.TLSConfig)
	}
	if err := s.startCluster(ctx); err != nil {
		s.ln.Close()
		return err
	}
	s.startWebhooks()
	go func() {
		err := s.http.Serve(s.ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		s.done <- err
	}()
	s.ready.Store(true)
	s.Log.Info("switchboard listening", "addr", s.Addr(), "tls", s.Config.TLS.Enabled())
	return nil
}

// Addr is the bound HTTP address (useful with port 0).
func (s *Server) Addr() string { return s.ln.Addr().String() }

// URL is the base URL of the HTTP listener.
func (s *Server) URL() string {
	if s.Config.TLS.Enabled() {
		return "https://" + s.Addr()
	}
	return "http://" + s.Addr()
}

// WebSocketURL is the signalling endpoint.
func (s *Server) WebSocketURL() string {
	if s.Config.TLS.Enabled() {
		return "wss://" + s.Addr() + "/v1/webrtc"
	}
	return "ws://" + s.Addr() + "/v1/webrtc"
}

// Done delivers the HTTP server's exit error once it stops.
func (s *Server) Done() <-chan error { return s.done }

// Drain stops taking new calls and sessions (call.create and SIP INVITEs
// are refused; /healthz and /readyz say "draining"; sockets resuming a
// session are still taken) and waits until the last call ends or ctx is
// done. Shutdown comes next: it ends what is left.
func (s *Server) Drain(ctx context.Context) error {
	s.draining.Store(true)
	s.streams.Close() // bots reconnect elsewhere with Last-Event-ID
	s.Calls.Drain()
	s.Hub.Drain()
	if s.cluster != nil {
		s.cluster.trunks.drain() // another node registers the trunks
	}
	s.Log.Info("draining", "calls", s.Calls.Count())
	return s.Calls.WaitIdle(ctx)
}

// Shutdown ends every call left (server-shutdown), sends going_away to
// every socket, stops the HTTP server, SIP, media and the store. It is
// safe to call once the server has started.
func (s *Server) Shutdown(ctx context.Context) error {
	s.ready.Store(false)
	var errs []error
	if s.Calls != nil {
		errs = append(errs, s.Calls.Shutdown(ctx))
	}
	if s.Hub != nil {
		errs = append(errs, s.Hub.Shutdown(ctx))
	}
	if s.streams != nil {
		s.streams.Close() // http.Shutdown would wait for them
	}
	if s.http != nil {
		errs = append(errs, s.http.Shutdown(ctx))
	}
	if s.cluster != nil {
		errs = append(errs, s.cluster.close())
	}
	if s.SIP != nil {
		errs = append(errs, s.SIP.Close())
	}
	if s.Media != nil {
		errs = append(errs, s.Media.Close())
	}
	if s.Presence != nil {
		s.Presence.Close()
	}
	if s.events != nil {
		s.events.Stop() // writes what SIP, sessions and presence reported last
	}
	if s.webhooks != nil {
		s.webhooks.Stop()
	}
	s.stopRecordings()
	errs = append(errs, s.Store.Close())
	return errors.Join(errs...)
}

// sipTrunks gives the API the SIP side's trunks.
type sipTrunks struct{ ua *sipua.UA }

func (t sipTrunks) ReloadTrunks(ctx context.Context) error { return t.ua.ReloadTrunks(ctx) }

func (t sipTrunks) TrunkStatus(id ident.TrunkID) api.TrunkStatus {
	r, o := t.ua.TrunkRegistration(id), t.ua.TrunkReachability(id)
	return api.TrunkStatus{State: r.State, ExpiresAt: r.ExpiresAt, LastError: r.LastError,
		Options: api.TrunkOptions{State: o.State, RTT: o.RTT, Status: o.Status, CheckedAt: o.CheckedAt, LastError: o.LastError}}
}

// Close releases the store of a server that was opened but not started.
func (s *Server) Close() error { return s.Store.Close() }

// rtpIP is the address SIP parties' RTP uses (bound and announced):
// media.rtp_ip, else the SIP listener's host, else the first non-loopback
// IPv4 address, else loopback.
func rtpIP(cfg config.Config) net.IP {
	if ip := net.ParseIP(cfg.Media.RTPIP); ip != nil {
		return ip
	}
	h, _, _ := net.SplitHostPort(cfg.SIPListen)
	if ip := net.ParseIP(h); ip != nil && !ip.IsUnspecified() {
		return ip
	}
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			return n.IP
		}
	}
	return net.IPv4(127, 0, 0, 1)
}
