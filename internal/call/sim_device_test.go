package call

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/emergency"
	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/store"
)

// The parts of the simulated world that speak the call's edge types: what
// devices send (commands) and hear (events through their parties).

func (p *simParty) Held(by HeldBy)            { p.hear(heard{what: "held:" + string(by)}) }
func (p *simParty) Ended(r EndReason, _ *int) { p.hear(heard{what: "ended:" + string(r)}) }
func (p *simParty) Refused(r Refusal)         { p.hear(heard{what: "error:" + codeWords[r.Code], info: r}) }
func (p *simParty) Restored(Restored)         { p.hear(heard{what: "restored"}) }

// codeWords names refusals as the browser protocol does, so that the
// tests read like the frames a device gets.
var codeWords = map[ErrorCode]string{CodeInvalid: "invalid_message", CodeFailed: "call_failed",
	CodeNotFound: "call_not_found", CodeRateLimited: "rate_limited", CodeAddressRequired: "emergency_address_required",
	CodeConferenceFull: "conference_full"}

// simDevice is a device session (a browser tab).
type simDevice struct {
	ear
	id      ident.SessionID
	user    ident.UserID
	offline bool // not offered new calls
	loc     *emergency.Location
	w       *world
	reqs    int
	quality []QualityReport // call.quality reports, under w.mu
}

func (d *simDevice) SessionID() ident.SessionID { return d.id }
func (d *simDevice) User() ident.UserID         { return d.user }
func (d *simDevice) Account() ident.AccountID   { return "acct_a" }
func (d *simDevice) EmergencyLocation() *emergency.Location {
	d.w.mu.Lock()
	defer d.w.mu.Unlock()
	return d.loc
}
func (d *simDevice) ears() *ear   { return &d.ear }
func (d *simDevice) name() string { return string(d.id) }

// Party records what call id tells the device.
func (d *simDevice) Party(id ident.CallID) DeviceParty { return devParty{d: d, call: string(id)} }

// devParty is the device's side of one call.
type devParty struct {
	d    *simDevice
	call string
}

func (p devParty) hear(what string, info any) { p.d.hear(heard{call: p.call, what: what, info: info}) }

func (p devParty) Key() string         { return string(p.d.id) }
func (p devParty) Kind() string        { return "webrtc" }
func (p devParty) Trying(reqID string) { p.hear("trying", reqID) }
func (p devParty) Incoming(i Info, _ string) {
	p.hear("incoming", i)
	p.hear("offer", nil)
}
func (p devParty) Answer(string)             { p.hear("answer", nil) }
func (p devParty) Ringing()                  { p.hear("ringing", nil) }
func (p devParty) Answered(time.Time)        { p.hear("answered", nil) }
func (p devParty) Held(by HeldBy)            { p.hear("held:"+string(by), nil) }
func (p devParty) Resumed()                  { p.hear("resumed", nil) }
func (p devParty) Ended(r EndReason, _ *int) { p.hear("ended:"+string(r), nil) }
func (p devParty) Refused(r Refusal)         { p.hear("error:"+codeWords[r.Code], r) }
func (p devParty) Quality(r QualityReport) {
	p.d.w.mu.Lock()
	defer p.d.w.mu.Unlock()
	p.d.quality = append(p.d.quality, r)
}

// qualities returns the quality reports the device got so far.
func (d *simDevice) qualities() []QualityReport {
	d.w.mu.Lock()
	defer d.w.mu.Unlock()
	return slices.Clone(d.quality)
}
func (p devParty) Restored(r Restored) {
	what := "restored:" + r.State.String()
	if r.HeldBy != "" {
		what += ":" + string(r.HeldBy)
	}
	p.hear(what, r)
}
func (p devParty) NewMedia(m Media, id ident.LegID) (LegMedia, error) { return m.NewWebRTC(id) }

// device connects a device session of user.
func (w *world) device(id, user string) *simDevice {
	d := &simDevice{id: ident.SessionID(id), user: ident.UserID(user), w: w}
	w.mu.Lock()
	w.devs = append(w.devs, d)
	w.mu.Unlock()
	return d
}

// dial places a call from d and returns its id, once it is trying.
func (d *simDevice) dial(dest string) ident.CallID {
	d.w.t.Helper()
	d.send(d.create(dest, "v=0"))
	h := d.w.expect(d, "trying")
	return ident.CallID(h[0].call)
}

func (d *simDevice) create(dest, sdp string) Create {
	d.reqs++
	return Create{ReqID: fmt.Sprintf("req_%d", d.reqs), Destination: dest, SDP: sdp}
}

func (d *simDevice) send(cr Create)                  { d.w.m.Create(d, cr) }
func (d *simDevice) do(id ident.CallID, cmd Command) { d.w.m.Command(d, id, cmd) }
func (d *simDevice) answer(id ident.CallID) {
	d.do(id, Answer{})
	d.do(id, AnswerSDP{SDP: "answer-" + string(d.id)})
}
func (d *simDevice) reject(id ident.CallID, busy bool)     { d.do(id, Reject{Busy: busy}) }
func (d *simDevice) hangup(id ident.CallID)                { d.do(id, Hangup{}) }
func (d *simDevice) hold(id ident.CallID)                  { d.do(id, Hold{}) }
func (d *simDevice) resume(id ident.CallID)                { d.do(id, Resume{}) }
func (d *simDevice) mute(id ident.CallID, on bool)         { d.do(id, Mute{On: on}) }
func (d *simDevice) reoffer(id ident.CallID, sdp string)   { d.do(id, Offer{SDP: sdp}) }
func (d *simDevice) candidate(id ident.CallID, c string)   { d.do(id, Candidate{Candidate: c}) }
func (d *simDevice) transfer(id ident.CallID, dest string) { d.do(id, Transfer{To: dest}) }

// consult starts an attended transfer's consult call and returns its id.
func (d *simDevice) consult(id ident.CallID, dest string) ident.CallID {
	d.w.t.Helper()
	d.attended(id, dest)
	h := d.w.expect(d, "held:local", "trying")
	return ident.CallID(h[1].call)
}

// attended asks for a consult (that may fail).
func (d *simDevice) attended(id ident.CallID, dest string) {
	d.reqs++
	d.do(id, AttendedTransfer{Step: StepConsult, ReqID: fmt.Sprintf("req_%d", d.reqs), To: dest, SDP: "v=0"})
}

func (d *simDevice) complete(id ident.CallID) {
	d.do(id, AttendedTransfer{Step: StepComplete, ReqID: "req_complete"})
}

func (d *simDevice) attendedStep(id ident.CallID, step string) {
	d.do(id, AttendedTransfer{Step: TransferStep(step), ReqID: "req_x"})
}

// callerID places a call presenting number.
func (d *simDevice) callerID(number string) {
	cr := d.create("102", "v=0")
	cr.CallerID = number
	d.send(cr)
}

// errorOf returns a heard refusal's req_id and message.
func errorOf(h heard) (reqID, msg string) {
	r, _ := h.info.(Refusal)
	return r.ReqID, r.Msg
}

func endReason(s string) EndReason { return EndReason(s) }

func requireRestoredMuted(t *testing.T, h heard, muted bool) {
	t.Helper()
	require.Equal(t, muted, h.info.(Restored).Muted)
}

func requireRestoredInbound(t *testing.T, h heard) {
	t.Helper()
	require.True(t, h.info.(Restored).Inbound)
}

// requireLimit requires a rate_limited refusal naming limit.
func requireLimit(t *testing.T, h heard, limit string) {
	t.Helper()
	require.Equal(t, limit, h.info.(Refusal).Limit.Limit)
}

func (o *simObserver) CallEnded(dir string, r EndReason, _ time.Duration, legs []store.LegStats) {
	o.add(fmt.Sprintf("ended:%s:%s:%d", dir, r, len(legs)))
}
