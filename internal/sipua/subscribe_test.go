package sipua

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/presence"
	"github.com/switchboard-voice/switchboard/internal/store"
)

// fakeSource is a presence.Source whose states the test sets.
type fakeSource struct {
	mu       sync.Mutex
	states   map[ident.UserID]presence.State
	watchers map[ident.UserID]map[int]func(presence.State)
	next     int
}

func newFakeSource() *fakeSource {
	return &fakeSource{states: map[ident.UserID]presence.State{}, watchers: map[ident.UserID]map[int]func(presence.State){}}
}

func (f *fakeSource) Watch(account ident.AccountID, user ident.UserID, fn func(presence.State)) (presence.State, func(), error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, ok := f.states[user]
	if !ok || st.Account != account {
		return presence.State{}, nil, presence.ErrUnavailable
	}
	if f.watchers[user] == nil {
		f.watchers[user] = map[int]func(presence.State){}
	}
	f.next++
	id := f.next
	f.watchers[user][id] = fn
	return st, func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		delete(f.watchers[user], id)
	}, nil
}

// set changes a user's state and tells the watchers.
func (f *fakeSource) set(st presence.State) {
	f.mu.Lock()
	f.states[st.User] = st
	var fns []func(presence.State)
	for _, fn := range f.watchers[st.User] {
		fns = append(fns, fn)
	}
	f.mu.Unlock()
	for _, fn := range fns {
		fn(st)
	}
}

// Registered makes fakeSource a sipua.Presence; registrations are not
// what these tests watch.
func (f *fakeSource) Registered(ident.UserID, time.Time) {}

func (f *fakeSource) watching(user ident.UserID) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.watchers[user])
}

// blfFixture is a user agent with a fake presence source and bob (102)
// known to it.
type blfFixture struct {
	*fixture
	src *fakeSource
	bob *store.User
}

func startBLF(t *testing.T, tweak func(*subTable)) *blfFixture {
	t.Helper()
	src := newFakeSource()
	f := startWith(t, nil, func(u *UA) {
		u.SetPresence(src)
		if tweak != nil {
			tweak(u.subs)
		}
	})
	bob, err := f.ua.store.GetUserByExtension(context.Background(), f.alice.AccountID, "102")
	require.NoError(t, err)
	src.set(presence.State{User: bob.ID, Account: bob.AccountID, Extension: "102", Status: presence.Available})
	return &blfFixture{fixture: f, src: src, bob: bob}
}

// blfPhone is a desk phone over UDP that subscribes and answers NOTIFYs.
type blfPhone struct {
	t        *testing.T
	conn     net.Conn
	network  string // udp or tcp
	server   *net.UDPAddr
	user     string
	password string
	notifies chan *sip.Request
	results  chan *sip.Response
	callID   string
	fromTag  string
	toTag    string
	cseq     int
	contact  string // the Contact's host:port; "" for the connection's local address
	chal     *digest.Challenge
	nc       int

	mu    sync.Mutex
	reply int // status for NOTIFYs (200)
}

func (f *blfFixture) phone(t *testing.T, user, password string) *blfPhone {
	t.Helper()
	return f.phoneOver(t, "udp", user, password)
}

// phoneOver is a phone over UDP or TCP (one connection, which the
// NOTIFYs must come back on).
func (f *blfFixture) phoneOver(t *testing.T, network, user, password string) *blfPhone {
	t.Helper()
	server := &net.UDPAddr{IP: net.ParseIP(f.host), Port: f.port}
	conn, err := net.Dial(network, server.String())
	require.NoError(t, err)
	p := &blfPhone{t: t, conn: conn, network: network, server: server, user: user,
		password: password, notifies: make(chan *sip.Request, 64), results: make(chan *sip.Response, 64), reply: 200}
	done := make(chan struct{})
	t.Cleanup(func() { conn.Close(); <-done })
	go p.read(done)
	p.newDialog()
	return p
}

func (p *blfPhone) newDialog() {
	p.callID, p.fromTag, p.toTag, p.cseq = "blf-"+ident.Short()+"@127.0.0.1", "ph"+ident.Short(), "", 0
}

// read answers NOTIFYs (with reply) and queues every message.
func (p *blfPhone) read(done chan struct{}) {
	defer close(done)
	buf := make([]byte, 65535)
	r := bufio.NewReader(p.conn)
	for {
		var data []byte
		if p.network == "udp" {
			n, err := p.conn.Read(buf)
			if err != nil {
				return
			}
			data = append([]byte(nil), buf[:n]...)
		} else {
			var err error
			if data, err = readStreamMsg(r); err != nil {
				return
			}
		}
		msg, err := sip.ParseMessage(data)
		if err != nil {
			continue
		}
		switch m := msg.(type) {
		case *sip.Request:
			if m.Method != sip.NOTIFY {
				continue
			}
			p.mu.Lock()
			status := p.reply
			p.mu.Unlock()
			res := sip.NewResponseFromRequest(m, status, "R", nil)
			_, _ = p.conn.Write([]byte(res.String()))
			select {
			case p.notifies <- m:
			default:
			}
		case *sip.Response:
			select {
			case p.results <- m:
			default:
			}
		}
	}
}

func (p *blfPhone) answerNotifies(status int) {
	p.mu.Lock()
	p.reply = status
	p.mu.Unlock()
}

// subscribe sends a SUBSCRIBE for target in the phone's dialog with the
// extra header lines, answering a challenge once, and returns the final
// response.
func (p *blfPhone) subscribe(target, extra string) *sip.Response {
	p.t.Helper()
	res := p.send(target, extra)
	if res.StatusCode == 401 && p.password != "" {
		var err error
		p.chal, err = digest.ParseChallenge(res.GetHeader("WWW-Authenticate").Value())
		require.NoError(p.t, err)
		p.nc = 0
		res = p.send(target, extra)
	}
	if tag, ok := res.To().Params.Get("tag"); ok && res.StatusCode == 200 {
		p.toTag = tag
	}
	return res
}

func (p *blfPhone) send(target, extra string) *sip.Response {
	p.t.Helper()
	p.cseq++
	uri := "sip:" + target + "@" + p.server.IP.String()
	to := "<" + uri + ">"
	if p.toTag != "" {
		to += ";tag=" + p.toTag
	}
	auth := ""
	if p.chal != nil {
		p.nc++
		creds, err := digest.Digest(p.chal, digest.Options{Method: "SUBSCRIBE", URI: uri, Username: p.user,
			Password: p.password, Count: p.nc})
		require.NoError(p.t, err)
		auth = "Authorization: " + creds.String() + "\r\n"
	}
	local := p.conn.LocalAddr().String()
	contact := local
	if p.contact != "" {
		contact = p.contact
	}
	msg := fmt.Sprintf("SUBSCRIBE %s SIP/2.0\r\nVia: SIP/2.0/%s %s;branch=z9hG4bK%s;rport\r\nMax-Forwards: 70\r\n"+
		"From: <sip:%s@127.0.0.1>;tag=%s\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: %d SUBSCRIBE\r\n"+
		"Contact: <sip:%s@%s;transport=%s>\r\n%s%sContent-Length: 0\r\n\r\n",
		uri, strings.ToUpper(p.network), local, ident.Short(), p.user, p.fromTag, to, p.callID, p.cseq, p.user, contact,
		p.network, auth, extra)
	_, err := p.conn.Write([]byte(msg))
	require.NoError(p.t, err)
	return p.response(sip.SUBSCRIBE)
}

// response waits for the final response to the phone's last request.
func (p *blfPhone) response(method sip.RequestMethod) *sip.Response {
	p.t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case res := <-p.results:
			if res.CallID().Value() == p.callID && res.CSeq().MethodName == method && int(res.CSeq().SeqNo) == p.cseq &&
				res.StatusCode >= 200 {
				return res
			}
		case <-deadline:
			p.t.Fatalf("no response to %s", method)
		}
	}
}

// notify waits for the next NOTIFY in the phone's dialog.
func (p *blfPhone) notify(d time.Duration) *sip.Request {
	p.t.Helper()
	deadline := time.After(d)
	for {
		select {
		case req := <-p.notifies:
			if req.CallID().Value() == p.callID {
				return req
			}
		case <-deadline:
			p.t.Fatalf("no NOTIFY within %v", d)
			return nil
		}
	}
}

// noNotify fails if a NOTIFY of the dialog arrives within d.
func (p *blfPhone) noNotify(d time.Duration) {
	p.t.Helper()
	deadline := time.After(d)
	for {
		select {
		case req := <-p.notifies:
			if req.CallID().Value() == p.callID {
				p.t.Fatalf("unexpected NOTIFY:\n%s", req)
			}
		case <-deadline:
			return
		}
	}
}

// readStreamMsg reads one message from a stream by its Content-Length.
func readStreamMsg(r *bufio.Reader) ([]byte, error) {
	var head bytes.Buffer
	length := 0
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		if head.Len() == 0 && strings.TrimSpace(line) == "" {
			continue
		}
		head.WriteString(line)
		if strings.TrimSpace(line) == "" {
			break
		}
		if name, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(strings.TrimSpace(name), "content-length") {
			length, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	body := make([]byte, length)
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, err
	}
	return append(head.Bytes(), body...), nil
}

func header(m interface{ GetHeader(string) sip.Header }, name string) string {
	if h := m.GetHeader(name); h != nil {
		return h.Value()
	}
	return ""
}

func TestSubscribeDialogNotifies(t *testing.T) {
	f := startBLF(t, nil)
	p := f.phone(t, "101", "alice-secret")
	res := p.subscribe("102", "Event: dialog\r\nAccept: application/dialog-info+xml\r\nExpires: 600\r\n")
	require.Equal(t, 200, res.StatusCode)
	require.Equal(t, "600", header(res, "Expires"))
	require.NotEmpty(t, p.toTag)
	require.NotNil(t, res.Contact())

	n := p.notify(2 * time.Second)
	require.Equal(t, "dialog", header(n, "Event"))
	require.Regexp(t, `^active;expires=(600|599)$`, header(n, "Subscription-State"))
	require.Equal(t, dialogInfoType, header(n, "Content-Type"))
	fromTag, _ := n.From().Params.Get("tag")
	toTag, _ := n.To().Params.Get("tag")
	require.Equal(t, p.toTag, fromTag)
	require.Equal(t, p.fromTag, toTag)
	require.Equal(t, "127.0.0.1", n.Recipient.Host)
	body := string(n.Body())
	require.Contains(t, body, `version="0"`)
	require.Contains(t, body, `state="full"`)
	require.Contains(t, body, `entity="sip:102@127.0.0.1"`)
	require.NotContains(t, body, "<dialog ")
	cseq := n.CSeq().SeqNo

	for i, state := range []presence.DialogState{presence.DialogEarly, presence.DialogConfirmed, presence.DialogTerminated} {
		f.src.set(presence.State{User: f.bob.ID, Account: f.bob.AccountID, Status: presence.OnCall,
			Dialogs: []presence.Dialog{{ID: "call_1", State: state, Remote: "103"}}})
		n := p.notify(2 * time.Second)
		body := string(n.Body())
		require.Contains(t, body, fmt.Sprintf(`version="%d"`, i+1))
		require.Contains(t, body, `<dialog id="call_1" direction="recipient"><state>`+string(state)+`</state>`)
		require.Contains(t, body, `<remote><identity>sip:103@127.0.0.1</identity></remote>`)
		require.Greater(t, n.CSeq().SeqNo, cseq)
		cseq = n.CSeq().SeqNo
	}

	// A refresh gets a NOTIFY; Expires: 0 a final one.
	res = p.subscribe("102", "Event: dialog\r\nExpires: 120\r\n")
	require.Equal(t, 200, res.StatusCode)
	require.Regexp(t, `^active;expires=1[12]\d$`, header(p.notify(2*time.Second), "Subscription-State"))
	res = p.subscribe("102", "Event: dialog\r\nExpires: 0\r\n")
	require.Equal(t, 200, res.StatusCode)
	require.Equal(t, "terminated;reason=timeout", header(p.notify(2*time.Second), "Subscription-State"))
	checkFor(t, 2*time.Second, func() bool { return f.src.watching(f.bob.ID) == 0 && f.ua.subs.count() == 0 })
	require.Equal(t, 481, p.subscribe("102", "Event: dialog\r\nExpires: 120\r\n").StatusCode)
}

func checkFor(t *testing.T, d time.Duration, fn func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !fn() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in time")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestSubscribeRefusals(t *testing.T) {
	f := startBLF(t, nil)
	ctx := context.Background()
	other := store.Account{Name: "B"}
	require.NoError(t, f.ua.store.CreateAccount(ctx, &other))
	eve := &store.User{AccountID: other.ID, Name: "Eve", Extension: "555", SIPUsername: "eve", SIPPassword: "eve-secret"}
	require.NoError(t, f.ua.store.CreateUser(ctx, eve))
	f.src.set(presence.State{User: eve.ID, Account: other.ID})

	for _, tc := range []struct {
		name, target, headers string
		status                int
		check                 func(*sip.Response)
	}{
		{"no event", "102", "", 400, nil},
		{"two events", "102", "Event: dialog\r\nEvent: dialog\r\n", 400, nil},
		{"bad event", "102", "Event: dia log\r\n", 400, nil},
		{"presence event", "102", "Event: presence\r\n", 489, func(r *sip.Response) {
			require.Equal(t, "dialog", header(r, "Allow-Events"))
		}},
		{"not acceptable", "102", "Event: dialog\r\nAccept: application/pidf+xml\r\n", 406, nil},
		{"too brief", "102", "Event: dialog\r\nExpires: 30\r\n", 423, func(r *sip.Response) {
			require.Equal(t, "60", header(r, "Min-Expires"))
		}},
		{"bad expires", "102", "Event: dialog\r\nExpires: -5\r\n", 400, nil},
		{"unknown user", "999", "Event: dialog\r\n", 404, nil},
		{"other account by extension", "555", "Event: dialog\r\n", 404, nil},
		{"other account by username", "eve", "Event: dialog\r\n", 404, nil},
		{"clamped", "102", "Event: dialog\r\nExpires: 99999\r\n", 200, func(r *sip.Response) {
			require.Equal(t, "3600", header(r, "Expires"))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := f.phone(t, "101", "alice-secret")
			res := p.subscribe(tc.target, tc.headers)
			require.Equal(t, tc.status, res.StatusCode, res.String())
			if tc.check != nil {
				tc.check(res)
			}
		})
	}

	t.Run("wrong password", func(t *testing.T) {
		p := f.phone(t, "101", "nope")
		require.Equal(t, 403, p.subscribe("102", "Event: dialog\r\n").StatusCode)
	})
	t.Run("unknown dialog", func(t *testing.T) {
		p := f.phone(t, "101", "")
		p.toTag = "nosuchtag"
		require.Equal(t, 481, p.subscribe("102", "Event: dialog\r\n").StatusCode)
	})
	t.Run("proxy challenge", func(t *testing.T) {
		p := f.phone(t, "101", "")
		res := p.send("102", "Event: dialog\r\nProxy-Authorization: Digest username=\"101\"\r\n")
		require.Equal(t, 407, res.StatusCode)
	})
}

func TestSubscribeWithoutSource(t *testing.T) {
	f := &blfFixture{fixture: start(t, nil)}
	p := f.phone(t, "101", "alice-secret")
	res := p.subscribe("102", "Event: dialog\r\n")
	require.Equal(t, 489, res.StatusCode)
}

func TestSubscriptionExpires(t *testing.T) {
	f := startBLF(t, func(s *subTable) { s.minExpires = time.Second })
	p := f.phone(t, "101", "alice-secret")
	start := time.Now() // before the server's clock starts: the wait is at least 1 s
	require.Equal(t, 200, p.subscribe("102", "Event: dialog;id=k1\r\nExpires: 1\r\n").StatusCode)
	n := p.notify(2 * time.Second)
	require.Equal(t, "dialog;id=k1", header(n, "Event"))
	require.Equal(t, "active;expires=1", header(n, "Subscription-State"))
	n = p.notify(5 * time.Second)
	require.Equal(t, "terminated;reason=timeout", header(n, "Subscription-State"))
	require.GreaterOrEqual(t, time.Since(start), 950*time.Millisecond, "not before it expires")
	checkFor(t, 2*time.Second, func() bool { return f.src.watching(f.bob.ID) == 0 && f.ua.subs.count() == 0 })
}

func TestSubscriptionEndsOnNotifyFailure(t *testing.T) {
	for _, status := range []int{481, 408} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			f := startBLF(t, nil)
			p := f.phone(t, "101", "alice-secret")
			require.Equal(t, 200, p.subscribe("102", "Event: dialog\r\n").StatusCode)
			p.notify(2 * time.Second)
			p.answerNotifies(status)
			f.src.set(presence.State{User: f.bob.ID, Account: f.bob.AccountID, Status: presence.OnCall,
				Dialogs: []presence.Dialog{{ID: "c", State: presence.DialogEarly}}})
			p.notify(2 * time.Second)
			checkFor(t, 2*time.Second, func() bool { return f.src.watching(f.bob.ID) == 0 && f.ua.subs.count() == 0 })
			f.src.set(presence.State{User: f.bob.ID, Account: f.bob.AccountID, Status: presence.Available})
			p.noNotify(200 * time.Millisecond)
		})
	}
}

func TestSubscriptionLimits(t *testing.T) {
	f := startBLF(t, func(s *subTable) { s.maxPerUser = 2 })
	p := f.phone(t, "101", "alice-secret")
	require.Equal(t, 200, p.subscribe("102", "Event: dialog\r\n").StatusCode)
	// The same phone subscribing again (after a reboot) replaces it.
	p.newDialog()
	require.Equal(t, 200, p.subscribe("102", "Event: dialog\r\n").StatusCode)
	require.Equal(t, 1, f.ua.subs.count())
	checkFor(t, 2*time.Second, func() bool { return f.src.watching(f.bob.ID) == 1 })
	f.src.set(presence.State{User: f.alice.ID, Account: f.alice.AccountID})
	p.newDialog()
	require.Equal(t, 200, p.subscribe("101", "Event: dialog\r\n").StatusCode, "watching oneself")
	p3 := f.phone(t, "101", "alice-secret")
	require.Equal(t, 403, p3.subscribe("102", "Event: dialog\r\n").StatusCode)

	f.ua.subs.mu.Lock()
	f.ua.subs.maxTotal = 1
	f.ua.subs.mu.Unlock()
	p4 := f.phone(t, "102", "bob-secret")
	res := p4.subscribe("101", "Event: dialog\r\n")
	require.Equal(t, 503, res.StatusCode)
	require.Equal(t, "60", header(res, "Retry-After"))
}

// A TCP phone that reconnects (a new source port, the same Contact) and
// subscribes again replaces its old subscription instead of adding one.
func TestSubscriptionReplacedAfterReconnect(t *testing.T) {
	f := startBLF(t, func(s *subTable) { s.maxPerUser = 1 })
	p := f.phoneOver(t, "tcp", "101", "alice-secret")
	p.contact = "127.0.0.1:5060"
	require.Equal(t, 200, p.subscribe("102", "Event: dialog\r\n").StatusCode)
	// The old connection stays open: a phone that rebooted leaves it half-open.
	again := f.phoneOver(t, "tcp", "101", "alice-secret")
	again.contact = "127.0.0.1:5060"
	require.Equal(t, 200, again.subscribe("102", "Event: dialog\r\n").StatusCode, "the old one is replaced, not counted")
	require.Equal(t, 1, f.ua.subs.count())
	other := f.phoneOver(t, "tcp", "101", "alice-secret") // another phone of the same user
	other.contact = "127.0.0.1:5062"
	require.Equal(t, 403, other.subscribe("102", "Event: dialog\r\n").StatusCode)
}

func TestSubscriptionFetch(t *testing.T) {
	f := startBLF(t, nil)
	p := f.phone(t, "101", "alice-secret")
	res := p.subscribe("102", "Event: dialog\r\nExpires: 0\r\n")
	require.Equal(t, 200, res.StatusCode)
	n := p.notify(2 * time.Second)
	require.Equal(t, "terminated;reason=timeout", header(n, "Subscription-State"))
	require.Contains(t, string(n.Body()), `entity="sip:102@127.0.0.1"`)
	require.Equal(t, 0, f.ua.subs.count())
}

func TestSubscriptionsEndOnClose(t *testing.T) {
	f := startBLF(t, nil)
	p := f.phone(t, "101", "alice-secret")
	require.Equal(t, 200, p.subscribe("102", "Event: dialog\r\n").StatusCode)
	p.notify(2 * time.Second)
	f.ua.subs.close()
	n := p.notify(2 * time.Second)
	require.Equal(t, "terminated;reason=deactivated", header(n, "Subscription-State"))
	require.Equal(t, 0, f.src.watching(f.bob.ID))
	res := f.phone(t, "101", "alice-secret").subscribe("102", "Event: dialog\r\n")
	require.Equal(t, 503, res.StatusCode)
	require.True(t, strings.Contains(header(res, "Retry-After"), "60"))
}

// TestSubscriptionOverTCP: NOTIFYs come back on the phone's own connection.
func TestSubscriptionOverTCP(t *testing.T) {
	f := startBLF(t, nil)
	p := f.phoneOver(t, "tcp", "101", "alice-secret")
	require.Equal(t, 200, p.subscribe("102", "Event: dialog\r\n").StatusCode)
	n := p.notify(2 * time.Second)
	require.Contains(t, n.Via().Value(), "TCP")
	f.src.set(presence.State{User: f.bob.ID, Account: f.bob.AccountID, Status: presence.OnCall,
		Dialogs: []presence.Dialog{{ID: "c", State: presence.DialogConfirmed, Initiator: true}}})
	n = p.notify(2 * time.Second)
	require.Contains(t, string(n.Body()), `direction="initiator"><state>confirmed</state>`)

	// The phone refreshes over UDP (to our Contact, which names no
	// transport): the NOTIFYs follow it there.
	u := f.phoneOver(t, "udp", "101", "alice-secret")
	u.callID, u.fromTag, u.toTag, u.cseq = p.callID, p.fromTag, p.toTag, p.cseq
	require.Equal(t, 200, u.subscribe("102", "Event: dialog\r\n").StatusCode)
	n = u.notify(2 * time.Second)
	require.Contains(t, n.Via().Value(), "UDP")
	require.Contains(t, string(n.Body()), `<state>confirmed</state>`)
}
