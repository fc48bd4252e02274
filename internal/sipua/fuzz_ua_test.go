package sipua

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/switchboard-voice/switchboard/internal/config"
	"github.com/switchboard-voice/switchboard/internal/store"
	"github.com/switchboard-voice/switchboard/internal/store/sqlite"
)

// FuzzUA sends each input to a running UA (the real transports,
// transaction layer, checkRequest and handlers), first on a new TCP
// connection, then as one UDP datagram, and requires that nothing panics,
// that no handler hangs, and that every request the UA can answer is
// answered: a request that sipgo's parser reads, with a Via, From, To,
// Call-ID and CSeq (what a response is built from), that is not an ACK,
// gets a final response.
//
// What legitimately gets no answer (see expect and expectStream):
//   - an ACK (RFC 3261 §17.1.1.3: never answered), and a response;
//   - a datagram that is all NUL bytes or a CRLF keep-alive (sipgo skips
//     or answers them before parsing), or that the junk filter
//     (looksLikeSIP) drops;
//   - a message sipgo's parser refuses (over TCP: the UA's parser, which
//     adds compat.go's header checks), or a request without one of the
//     five headers (there is nothing to build a response from, or no
//     transaction to answer in);
//   - over TCP, bytes that are not exactly one message (Content-Length
//     frames a stream, §18.3: the UA may close the connection first);
//   - a request without an RFC 3261 branch whose transaction (sipgo's
//     RFC 2543 key) an earlier exec already used: sipgo takes it for a
//     retransmission, and resends that answer, absorbs it (an ACKed
//     INVITE, §17.2.1), or drops it when the methods differ;
//   - an answer sent where we cannot listen: a UDP response goes to the
//     packet's source address and the top Via's port unless the Via has
//     rport (§18.2.2, RFC 3581 §4); we listen on that port too when it is
//     free, and skip the check when it is not (or is the UA's own).
//
// Each "z9hG4bK" in an input gets a per-exec (and per-transport) tag
// appended before sending, so that every exec is a transaction of its own:
// sipgo matches requests to transactions by branch (§17.2.3), and a
// mutated request reusing a seed's branch within Timer J (32 s) would
// otherwise be answered from an earlier transaction and never reach a
// handler.
//
// After the datagram, an OPTIONS probe is sent: the UDP read loop is
// sequential, so the probe's 200 shows the datagram was read and
// dispatched. Then the test waits until no request handler goroutine is
// running (their frames are looked for in a goroutine dump), so that a
// panic recovered by guard or guardAck, or a handler that never returns,
// is blamed on the input that caused it. A panic outside our guards (in
// sipgo's goroutines) kills the process, which the fuzzer reports as a
// crash. A non-2xx final response to an INVITE is ACKed, as a phone
// would, so the UA stops retransmitting it.
func FuzzUA(f *testing.F) {
	h := startFuzzUA(f)
	f.Fuzz(func(t *testing.T, data []byte) { h.exec(t, data) })
}

const (
	fuzzMaxDatagram = 65507 // the largest UDP payload over IPv4
	fuzzReadSize    = 32768 // sipgo's TransportBufferReadSize: longer datagrams are cut to this
	fuzzProbeWait   = 5 * time.Second
	fuzzIdleWait    = 10 * time.Second
	fuzzAnswerWait  = time.Second      // once the handlers are done, the answer is already in our socket
	fuzzTxLife      = 40 * time.Second // a UDP server transaction lives 32 s at most (Timer H, Timer J)
)

// fuzzUA is the UA under test and the client socket the inputs are sent from.
type fuzzUA struct {
	ua      *UA
	uaAddr  *net.UDPAddr
	uaPort  int
	conn    *net.UDPConn
	port    int
	panics  *panicLog
	res     chan fuzzResponse
	readers sync.WaitGroup

	n    int                  // execs so far: tags branches and probes
	txs  map[string]time.Time // transactions of requests without an RFC 3261 branch, when last sent
	dump []byte               // goroutine dump buffer
	seen []fuzzResponse       // other datagrams that came back during this exec
}

// fuzzResponse is a datagram that came back, parsed when it parses.
type fuzzResponse struct {
	raw  []byte
	res  *sip.Response
	port int // the local port it came to
}

func startFuzzUA(f *testing.F) *fuzzUA {
	f.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(f.TempDir(), "db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { db.Close() })
	acct := store.Account{Name: "A"}
	if err := db.CreateAccount(ctx, &acct); err != nil {
		f.Fatal(err)
	}
	for _, u := range []*store.User{
		{AccountID: acct.ID, Name: "Alice", Extension: "101", SIPUsername: "101", SIPPassword: "alice-secret"},
		{AccountID: acct.ID, Name: "Bob", Extension: "102", SIPUsername: "102", SIPPassword: "bob-secret"},
	} {
		if err := db.CreateUser(ctx, u); err != nil {
			f.Fatal(err)
		}
	}
	cfg := config.Default()
	cfg.SIPListen = "127.0.0.1:0"
	cfg.SIP.BanAfter = 1 << 30 // keep the digest code reachable: bans would answer every REGISTER before it
	panics := newPanicLog()
	ua, err := New(ctx, cfg, db, slog.New(panics))
	if err != nil {
		f.Fatal(err)
	}
	ua.SetPresence(newFakeSource()) // SUBSCRIBE gets past 489 to its header checks
	if err := ua.Start(); err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { ua.Close() })

	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		f.Fatal(err)
	}
	uaAddr, err := net.ResolveUDPAddr("udp4", ua.Addr())
	if err != nil {
		f.Fatal(err)
	}
	h := &fuzzUA{ua: ua, uaAddr: uaAddr, uaPort: uaAddr.Port, conn: conn, port: conn.LocalAddr().(*net.UDPAddr).Port,
		panics: panics, res: make(chan fuzzResponse, 4096), txs: map[string]time.Time{}, dump: make([]byte, 1<<20)}
	h.read(conn)
	f.Cleanup(func() {
		conn.Close()
		h.readers.Wait()
		if p := panics.take(); len(p) > 0 {
			f.Errorf("recovered panics: %q", p)
		}
	})
	return h
}

// read passes what comes to c to h.res until c is closed.
func (h *fuzzUA) read(c *net.UDPConn) {
	port := c.LocalAddr().(*net.UDPAddr).Port
	h.readers.Add(1)
	go func() {
		defer h.readers.Done()
		buf := make([]byte, 65536)
		for {
			n, _, err := c.ReadFromUDP(buf)
			if err != nil {
				return
			}
			r := fuzzResponse{raw: bytes.Clone(buf[:n]), port: port}
			if m, err := sip.ParseMessage(r.raw); err == nil {
				r.res, _ = m.(*sip.Response)
			}
			select {
			case h.res <- r:
			default: // nobody is reading: an old retransmission
			}
		}
	}()
}

// fuzzExpect is what the test knows about an input before sending it.
type fuzzExpect struct {
	req    *sip.Request // nil when it does not parse as a request
	whole  bool         // req has the five headers a response is built from
	answer bool         // a final response is required
	why    string       // why not
	branch string       // the top Via's RFC 3261 branch, or ""
	ports  []int        // where the answer may go besides our socket
}

func (h *fuzzUA) exec(t *testing.T, data []byte) {
	h.n++
	if h.n%4096 == 0 {
		for k, at := range h.txs {
			if time.Since(at) > fuzzTxLife {
				delete(h.txs, k)
			}
		}
	}
	h.execTCP(t, bytes.ReplaceAll(data, []byte(sip.RFC3261BranchMagicCookie),
		[]byte(sip.RFC3261BranchMagicCookie+fmt.Sprintf("t%08x.", h.n))))
	// Its transactions end before the datagram comes: without an RFC 3261
	// branch the datagram would match one (sipgo keys those without the
	// transport).
	h.waitIdle(t, "TCP input")
	data = bytes.ReplaceAll(data, []byte(sip.RFC3261BranchMagicCookie),
		[]byte(sip.RFC3261BranchMagicCookie+fmt.Sprintf("%08x.", h.n)))
	if len(data) > fuzzMaxDatagram {
		return // not a datagram
	}
	exp := h.expect(data)
	h.seen = h.seen[:0]
	var sides []*net.UDPConn
	for _, p := range exp.ports {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: p})
		if err != nil {
			exp.answer, exp.why = false, fmt.Sprintf("the answer goes to port %d, which is not free", p)
			continue
		}
		sides = append(sides, c)
		h.read(c)
	}
	defer func() {
		for _, c := range sides {
			c.Close() // its reader ends; Cleanup waits for it
		}
	}()

	if _, err := h.conn.WriteToUDP(data, h.uaAddr); err != nil {
		t.Skipf("cannot send: %v", err)
	}
	got := h.sync(t, "input", exp.match)
	if exp.answer && got == nil {
		got = h.await(exp.match, fuzzAnswerWait)
	}
	if p := h.panics.take(); len(p) > 0 {
		t.Fatalf("recovered panic handling %s: %q", fuzzShort(data), p)
	}
	switch {
	case got != nil:
		t.Logf("answered %d", fuzzStatus(*got))
	case exp.answer:
		var other []string
		for _, r := range h.seen {
			other = append(other, fmt.Sprintf("to port %d: %s", r.port, fuzzShort(r.raw)))
		}
		t.Fatalf("no final response to a request the UA can answer (%s %s, Call-ID %q); sent:\n%s\nother datagrams back:\n%s",
			exp.req.Method, exp.req.Recipient.String(), exp.req.CallID().Value(), fuzzShort(data), strings.Join(other, "\n"))
	default:
		t.Logf("not answered: %s", exp.why)
	}
	if got != nil && exp.req.IsInvite() && fuzzStatus(*got) >= 300 {
		h.ack(t, exp, got)
	}
}

// execTCP sends data on a new TCP connection. A request that is one whole
// message (Content-Length framing it exactly, RFC 3261 §18.3) with an RFC
// 3261 branch and the five headers, not an ACK, must get a final response
// on the connection (§18.2.2). Then we half-close, and the UA must close
// the connection too: its read loop has then seen every byte (the probe
// that follows the UDP datagram covers the handlers).
func (h *fuzzUA) execTCP(t *testing.T, data []byte) {
	c, err := net.DialTCP("tcp4", nil, &net.TCPAddr{IP: h.uaAddr.IP, Port: h.uaAddr.Port})
	if err != nil {
		t.Fatalf("tcp: %v", err)
	}
	defer c.Close()
	exp := fuzzExpect{why: "not one whole message with an RFC 3261 branch, as the UA's parser reads it"}
	// The UA's own parser (sipgo's with our header checks, compat.go):
	// what it refuses on a stream closes the connection unanswered.
	if msg, n, err := newParser().Parse(data, true); err == nil && n == len(data) {
		if _, ok := msg.(*sip.Request); ok {
			exp = h.expectStream(data)
		}
	}
	if _, err := c.Write(data); err != nil {
		return // the UA closed the connection on a framing error
	}
	_ = c.SetReadDeadline(time.Now().Add(fuzzProbeWait))
	var got bytes.Buffer
	buf := make([]byte, 65536)
	for answered := !exp.answer; !answered; {
		n, err := c.Read(buf)
		got.Write(buf[:n])
		if err != nil {
			t.Fatalf("no final response over TCP to a request the UA can answer (%v); sent:\n%s\ngot back:\n%s",
				err, fuzzShort(data), fuzzShort(got.Bytes()))
		}
		_ = sip.NewParser().NewSIPStream().ParseSIPStream(got.Bytes(), func(m sip.Message) {
			if r, ok := m.(*sip.Response); ok && exp.match(fuzzResponse{res: r}) {
				answered = true
			}
		})
		if !answered && fuzzStatus(fuzzResponse{raw: got.Bytes()}) >= 200 && bytes.Contains(got.Bytes(), []byte(exp.branch)) {
			answered = true // a response sipgo cannot parse back
		}
	}
	_ = c.CloseWrite()
	for {
		if _, err := c.Read(buf); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatalf("the UA kept a TCP connection open %v after our FIN; sent:\n%s", fuzzProbeWait, fuzzShort(data))
			}
			return
		}
	}
}

// expectStream is expect for a request sent over TCP: its answer comes
// back on the connection.
func (h *fuzzUA) expectStream(data []byte) fuzzExpect {
	exp := fuzzRequest(newParser().ParseSIP(data))
	if exp.whole && exp.branch == "" {
		exp.why = "no RFC 3261 branch: it may match an earlier exec's transaction (see expect)"
		return exp
	}
	exp.answer = exp.whole
	return exp
}

// fuzzRequest is what any transport needs of a request to answer it.
func fuzzRequest(msg sip.Message, err error) fuzzExpect {
	if err != nil {
		return fuzzExpect{why: "sipgo cannot parse it: " + err.Error()}
	}
	req, ok := msg.(*sip.Request)
	if !ok {
		return fuzzExpect{why: "a response"}
	}
	exp := fuzzExpect{req: req}
	if req.IsAck() {
		exp.why = "ACK is never answered"
		return exp
	}
	for _, name := range []string{"Via", "From", "To", "Call-ID", "CSeq"} {
		if req.GetHeader(name) == nil {
			exp.why = "no " + name + " header to answer with"
			return exp
		}
	}
	exp.whole = true
	if b, _ := req.Via().Params.Get("branch"); strings.HasPrefix(b, sip.RFC3261BranchMagicCookie) && len(b) > len(sip.RFC3261BranchMagicCookie) {
		exp.branch = b
	}
	return exp
}

// expect works out whether data must be answered, and where the answer goes.
func (h *fuzzUA) expect(data []byte) fuzzExpect {
	d := data[:min(len(data), fuzzReadSize)]
	switch {
	case len(bytes.Trim(d, "\x00")) == 0:
		return fuzzExpect{why: "all NUL bytes: sipgo skips it"}
	case len(d) <= 4 && len(bytes.Trim(d, "\r\n")) == 0:
		return fuzzExpect{why: "a keep-alive"}
	case !looksLikeSIP(d):
		return fuzzExpect{why: "junk: the read filter drops it"}
	}
	exp := fuzzRequest(sip.ParseMessage(d))
	if !exp.whole {
		return exp
	}
	req, via := exp.req, exp.req.Via()
	if exp.branch == "" {
		// sipgo keys its transaction by From tag, Call-ID, CSeq and top
		// Via (RFC 3261 §17.2.3's RFC 2543 matching, without the
		// Request-URI and To tag), which the per-exec tag does not touch.
		from, _ := req.From().Params.Get("tag")
		key := from + "\x00" + req.CallID().Value() + "\x00" + req.CSeq().Value() + "\x00" + via.Value()
		at, ok := h.txs[key]
		h.txs[key] = time.Now()
		if ok && time.Since(at) < fuzzTxLife {
			exp.why = "it may match an earlier exec's transaction (RFC 2543 matching): sipgo then resends " +
				"that answer, absorbs it (an ACKed INVITE, §17.2.1), or drops it when the methods differ"
			return exp
		}
	}
	// RFC 3261 §18.2.2, RFC 3581 §4: the packet's source address (ours),
	// the port of the top Via's sent-by (5060 without one) unless rport
	// asks for the source port; sipgo also honours rport=N.
	port := via.Port
	if port <= 0 {
		port = sip.DefaultUdpPort
	}
	if rport, ok := via.Params.Get("rport"); ok {
		if rport == "" {
			port = h.port
		} else if n, err := strconv.Atoi(rport); err == nil {
			port = n
		}
	}
	exp.answer = true
	switch {
	case port == h.port:
	case port == h.uaPort || port <= 0 || port > 65535:
		exp.answer, exp.why = false, fmt.Sprintf("the answer goes to port %d", port)
	default:
		exp.ports = append(exp.ports, port)
	}
	return exp
}

// match reports whether r answers the input: the same top Via branch (the
// branch is unique per exec), or the same Call-ID and CSeq (sipgo may
// write an odd branch back quoted).
func (e fuzzExpect) match(r fuzzResponse) bool {
	if !e.whole || fuzzStatus(r) < 200 {
		return false
	}
	if e.branch != "" && bytes.Contains(r.raw, []byte(e.branch)) {
		return true
	}
	if r.res == nil { // a response sipgo cannot parse back ("SIP/ 505 …")
		return bytes.Contains(r.raw, []byte("\r\nCall-ID: "+e.req.CallID().Value()+"\r\n")) &&
			bytes.Contains(r.raw, []byte("\r\nCSeq: "+e.req.CSeq().Value()+"\r\n"))
	}
	if v := r.res.Via(); v != nil && e.branch != "" {
		if b, _ := v.Params.Get("branch"); strings.Trim(b, `"`) == e.branch {
			return true
		}
	}
	c, cs := r.res.CallID(), r.res.CSeq()
	return c != nil && cs != nil && c.Value() == e.req.CallID().Value() && cs.Value() == e.req.CSeq().Value()
}

// sync sends an OPTIONS probe, waits for its 200 and then for every
// request handler to return. It returns the first response match accepts
// among those seen meanwhile.
func (h *fuzzUA) sync(t *testing.T, after string, match func(fuzzResponse) bool) *fuzzResponse {
	h.n++
	callID := fmt.Sprintf("probe-%d@127.0.0.1", h.n)
	probe := fmt.Sprintf("OPTIONS sip:%s SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;rport;branch=z9hG4bKprobe%d\r\n"+
		"Max-Forwards: 70\r\nFrom: <sip:probe@127.0.0.1>;tag=p%d\r\nTo: <sip:%s>\r\nCall-ID: %s\r\nCSeq: 1 OPTIONS\r\n"+
		"Content-Length: 0\r\n\r\n", h.ua.Addr(), h.port, h.n, h.n, h.ua.Addr(), callID)
	if _, err := h.conn.WriteToUDP([]byte(probe), h.uaAddr); err != nil {
		t.Fatalf("probe: %v", err)
	}
	var got *fuzzResponse
	deadline := time.NewTimer(fuzzProbeWait)
	defer deadline.Stop()
	for probed := false; !probed; {
		select {
		case r := <-h.res:
			if r.res != nil && r.res.CallID() != nil && r.res.CallID().Value() == callID {
				probed = true
			} else if got == nil && match(r) {
				got = &r
			} else {
				h.seen = append(h.seen, r)
			}
		case <-deadline.C:
			t.Fatalf("no answer to an OPTIONS probe sent after the %s: the UDP read loop is stuck", after)
		}
	}
	h.waitIdle(t, after)
	if got == nil {
		got = h.await(match, 0)
	}
	return got
}

// await returns the first response match accepts within wait (0: only
// what has already come), dropping others.
func (h *fuzzUA) await(match func(fuzzResponse) bool, wait time.Duration) *fuzzResponse {
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	for {
		select {
		case r := <-h.res:
			if match(r) {
				return &r
			}
			h.seen = append(h.seen, r)
		default:
			if wait == 0 {
				return nil
			}
			select {
			case r := <-h.res:
				if match(r) {
					return &r
				}
				h.seen = append(h.seen, r)
			case <-deadline.C:
				return nil
			}
		}
	}
}

// ack acknowledges a non-2xx final response to an INVITE as its client
// transaction would (RFC 3261 §17.1.1.3), so that the UA stops
// retransmitting it, and waits until the UA has handled the ACK.
func (h *fuzzUA) ack(t *testing.T, exp fuzzExpect, got *fuzzResponse) {
	req := exp.req
	to := req.To().Value()
	if got.res != nil && got.res.To() != nil {
		to = got.res.To().Value()
	}
	ack := fmt.Sprintf("ACK %s SIP/2.0\r\nVia: %s\r\nMax-Forwards: 70\r\nFrom: %s\r\nTo: %s\r\nCall-ID: %s\r\n"+
		"CSeq: %d ACK\r\nContent-Length: 0\r\n\r\n", req.Recipient.String(), req.Via().Value(), req.From().Value(), to,
		req.CallID().Value(), req.CSeq().SeqNo)
	if _, err := h.conn.WriteToUDP([]byte(ack), h.uaAddr); err != nil {
		return // too big to send: the UA retransmits until Timer H
	}
	h.sync(t, "ACK", func(fuzzResponse) bool { return false })
	if p := h.panics.take(); len(p) > 0 {
		t.Fatalf("recovered panic handling our ACK of the answer (%s): %q", fuzzShort([]byte(ack)), p)
	}
}

// waitIdle waits until no request handler runs.
func (h *fuzzUA) waitIdle(t *testing.T, after string) {
	start := time.Now()
	for !h.handlersIdle() {
		if time.Since(start) > fuzzIdleWait {
			t.Fatalf("a request handler is still running %v after the %s:\n%s", fuzzIdleWait, after, h.busy())
		}
		time.Sleep(20 * time.Microsecond)
	}
}

// fuzzHandlerFrames name the goroutines that run a request: sipgo starts
// one per request (handleRequestBackground), which runs our guard.
var fuzzHandlerFrames = [][]byte{[]byte("sip.(*TransactionLayer).handleRequestBackground"), []byte("sipua.(*UA).guard")}

func (h *fuzzUA) handlersIdle() bool {
	d := h.dump[:runtime.Stack(h.dump, true)]
	for _, fr := range fuzzHandlerFrames {
		if bytes.Contains(d, fr) {
			return false
		}
	}
	return true
}

// busy returns the stacks of running handlers.
func (h *fuzzUA) busy() string {
	var out []string
	for _, g := range strings.Split(string(h.dump[:runtime.Stack(h.dump, true)]), "\n\n") {
		for _, fr := range fuzzHandlerFrames {
			if strings.Contains(g, string(fr)) {
				out = append(out, g)
				break
			}
		}
	}
	return strings.Join(out, "\n\n")
}

func fuzzStatus(r fuzzResponse) int {
	if r.res != nil {
		return r.res.StatusCode
	}
	// "SIP/2.0 200 OK"
	if f := strings.Fields(string(r.raw[:min(len(r.raw), 32)])); len(f) > 1 && strings.HasPrefix(f[0], "SIP/") {
		n, _ := strconv.Atoi(f[1])
		return n
	}
	return 0
}

func fuzzShort(b []byte) string {
	if len(b) > 2000 {
		return fmt.Sprintf("%q… (%d bytes)", b[:2000], len(b))
	}
	return fmt.Sprintf("%q", b)
}

// panicLog is a slog handler that keeps ERROR records that mention a panic
// ("sip handler panic", "sip ack handler panic") and discards the rest.
type panicLog struct {
	sink  *panicSink
	attrs string
}

type panicSink struct {
	mu   sync.Mutex
	recs []string
}

func newPanicLog() *panicLog { return &panicLog{sink: &panicSink{}} }

func (l *panicLog) Enabled(_ context.Context, lv slog.Level) bool { return lv >= slog.LevelError }

func (l *panicLog) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	b.WriteString(l.attrs)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	if s := b.String(); strings.Contains(strings.ToLower(s), "panic") {
		l.sink.mu.Lock()
		l.sink.recs = append(l.sink.recs, s)
		l.sink.mu.Unlock()
	}
	return nil
}

func (l *panicLog) WithAttrs(as []slog.Attr) slog.Handler {
	var b strings.Builder
	for _, a := range as {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
	}
	return &panicLog{sink: l.sink, attrs: l.attrs + b.String()}
}

func (l *panicLog) WithGroup(string) slog.Handler { return l }

// take returns the records kept since the last call.
func (l *panicLog) take() []string {
	l.sink.mu.Lock()
	defer l.sink.mu.Unlock()
	r := l.sink.recs
	l.sink.recs = nil
	return r
}
