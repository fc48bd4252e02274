package call

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/store"
)

// Recorder records calls (internal/recording behind an adapter). Its
// methods run on the call's actor and do a little I/O (a store read or
// write, a file created or closed).
type Recorder interface {
	// Policy is the account's recording policy.
	Policy(ctx context.Context, account ident.AccountID) (*store.RecordingPolicy, error)
	// Start begins a recording of the call: channel 0 is what the
	// bridge's first leg says, channel 1 the second (in a conference:
	// everyone else).
	Start(ctx context.Context, call ident.CallID, account ident.AccountID) (Recording, error)
}

// Recording is a recording in progress.
type Recording interface {
	ID() ident.RecordingID
	// Feed adds decoded audio of one side; it runs on media goroutines.
	Feed(side int, pcm []int16)
	Pause(ctx context.Context) error
	Resume(ctx context.Context) error
	// Stop finishes the recording; it is idempotent.
	Stop(ctx context.Context) (store.Recording, error)
}

// TappedBridge is a Bridge whose decoded audio a recording can hear
// (the media bridge is one), and that can beep to both parties.
type TappedBridge interface {
	SetTap(tap func(fromA bool, pcm []int16))
	Beep()
}

// TappedMixer is a conference Mixer a recording can hear (the media
// mixer is one): tap gets, every 20 ms, first's own voice (fromA) and the
// mix of everyone else that is heard; Beep mixes the recording beep into
// what every participant hears.
type TappedMixer interface {
	SetTap(first MediaLeg, tap func(fromA bool, pcm []int16))
	Beep()
}

// PromptPlayer is a Bridge (or a Mixer) that can play a named prompt to both parties
// in place of the recording beep.
type PromptPlayer interface {
	PlayPrompt(name string) error
}

// RecordAction is what a recording request asks.
type RecordAction string

// Record actions.
const (
	RecordStart  RecordAction = "start"
	RecordPause  RecordAction = "pause"
	RecordResume RecordAction = "resume"
	RecordStop   RecordAction = "stop"
)

// RecordingState is a call's recording state as parties hear it.
type RecordingState string

// Recording states.
const (
	RecordingOn      RecordingState = "recording"
	RecordingPaused  RecordingState = "paused"
	RecordingStopped RecordingState = "stopped"
)

// RecordingInfo is a call's recording as call.restored describes it.
type RecordingInfo struct {
	ID    ident.RecordingID
	State RecordingState // RecordingOn or RecordingPaused
}

// Record is a device's call.record.
type Record struct {
	Action RecordAction
	ReqID  string
}

// SuperviseRecord is POST /v1/calls/{id}/recording: User, when set, must
// be on the call (a user token; empty: the admin key).
type SuperviseRecord struct {
	Action RecordAction
	User   ident.UserID
}

func (Record) command()          {}
func (SuperviseRecord) command() {}

// RecordingNotice tells a party the call's recording changed; ReqID is
// set for the party whose request it answers.
type RecordingNotice struct {
	// Requested: this party asked for the change (its copy answers the
	// request; the others are news).
	Requested   bool
	ReqID       string
	RecordingID ident.RecordingID
	State       RecordingState
}

// RecordingListener is a Party that hears recording changes (device
// parties; SIP parties are told by the beep alone).
type RecordingListener interface {
	RecordingChanged(n RecordingNotice)
}

// Recording errors (Manager.Supervise and refusals of call.record).
var (
	// ErrRecordingNotAllowed: the account's policy forbids the request.
	ErrRecordingNotAllowed = errors.New("recording not allowed")
	// ErrNoRecorder: the server keeps no recordings.
	ErrNoRecorder = errors.New("recording is not configured")
)

// recordTimeout bounds the recorder's I/O for one request.
const recordTimeout = 3 * time.Second

// activeRecording is the call's recording in progress.
type activeRecording struct {
	rec    Recording
	paused bool
	policy store.RecordingMode
}

// state is the recording's state as parties hear it.
func (r *activeRecording) state() RecordingState {
	if r.paused {
		return RecordingPaused
	}
	return RecordingOn
}

// recordingInfo describes the call's recording; nil when there is none.
func (c *Call) recordingInfo() *RecordingInfo {
	if c.recording == nil {
		return nil
	}
	return &RecordingInfo{ID: c.recording.rec.ID(), State: c.recording.state()}
}

// SetRecorder lets calls be recorded (before serving calls).
func (m *Manager) SetRecorder(r Recorder) { m.recorder = r }

// onRecord applies a device's call.record.
func (c *Call) onRecord(l *leg, m Record) {
	if err := c.record(m.Action, m.ReqID, l); err != nil {
		code := CodeInvalid
		switch {
		case errors.Is(err, ErrRecordingNotAllowed):
			code = CodeRecordingNotAllowed
		case errors.Is(err, ErrNoRecorder), errors.Is(err, errRecorderIO):
			code = CodeFailed
		}
		l.party.Refused(Refusal{Code: code, ReqID: m.ReqID, Msg: "call.record: " + err.Error()})
	}
}

// superviseRecord applies POST /v1/calls/{id}/recording.
func (c *Call) superviseRecord(x SuperviseRecord) error {
	if x.User != "" && !c.live().HasUser(x.User) {
		return fmt.Errorf("%w: %s", ErrNoCall, c.id)
	}
	return c.record(x.Action, "", nil)
}

var errRecorderIO = errors.New("recording failed")

// record carries out action; reqID goes back to the requesting party by
// (nil: a supervisor) with the notice.
func (c *Call) record(action RecordAction, reqID string, by *leg) error {
	if c.m.recorder == nil {
		return ErrNoRecorder
	}
	if !c.connected() || c.winner == nil {
		return fmt.Errorf("%w: only an answered call can be recorded (the call is %s)", ErrCallState, c.state)
	}
	ctx, cancel := context.WithTimeout(c.ctx, recordTimeout)
	defer cancel()
	r := c.recording
	switch action {
	case RecordStart:
		if r != nil {
			return fmt.Errorf("%w: the call is already being recorded", ErrCallState)
		}
		return c.startRecording(ctx, false, reqID, by)
	case RecordPause, RecordResume:
		if r == nil {
			return fmt.Errorf("%w: the call is not being recorded", ErrCallState)
		}
		if r.paused == (action == RecordPause) {
			return fmt.Errorf("%w: the recording is already %s", ErrCallState, map[bool]string{true: "paused", false: "running"}[r.paused])
		}
		var err error
		if action == RecordPause {
			err = r.rec.Pause(ctx)
		} else {
			err = r.rec.Resume(ctx)
		}
		r.paused = action == RecordPause
		c.tellRecording(reqID, by)
		if err != nil {
			c.m.log.Warn("recording: save", "call_id", c.id, "err", err)
		}
		return nil
	case RecordStop:
		if r == nil {
			return fmt.Errorf("%w: the call is not being recorded", ErrCallState)
		}
		if r.policy == store.RecordingAlways {
			return fmt.Errorf("%w: the account records every call (pause it instead)", ErrRecordingNotAllowed)
		}
		c.stopRecording(reqID, by, true)
		return nil
	}
	return fmt.Errorf("%w: unknown action %q", ErrCallState, action)
}

// startRecording begins recording the call. auto is the policy "always"
// at the answer.
func (c *Call) startRecording(ctx context.Context, auto bool, reqID string, by *leg) error {
	p, err := c.m.recorder.Policy(ctx, c.account)
	if err != nil {
		return fmt.Errorf("%w: policy: %v", errRecorderIO, err)
	}
	switch {
	case p.Mode == store.RecordingNever:
		return fmt.Errorf("%w: the account's recording policy is never", ErrRecordingNotAllowed)
	case auto && p.Mode != store.RecordingAlways:
		return nil
	}
	rec, err := c.m.recorder.Start(ctx, c.id, c.account)
	if err != nil {
		return fmt.Errorf("%w: %v", errRecorderIO, err)
	}
	c.recording = &activeRecording{rec: rec, policy: p.Mode}
	if c.conf != nil {
		c.tapMixer()
	} else {
		c.tapBridge()
	}
	c.warnRecorded(p)
	c.m.log.Info("recording started", "call_id", c.id, "recording_id", rec.ID(), "auto", auto)
	c.tellRecording(reqID, by)
	return nil
}

// warnRecorded plays the policy's announcement, else (or when it cannot
// be played) the beep, if the policy has one.
func (c *Call) warnRecorded(p *store.RecordingPolicy) {
	var out any = c.bridge // what the parties hear through
	if c.conf != nil {
		out = c.conf.mixer
	}
	if pp, ok := out.(PromptPlayer); ok && p.Announcement != "" {
		err := pp.PlayPrompt(p.Announcement)
		if err == nil {
			return
		}
		c.m.log.Warn("recording: announcement", "call_id", c.id, "prompt", p.Announcement, "err", err)
	}
	if b, ok := out.(interface{ Beep() }); ok && p.Beep {
		b.Beep()
	}
}

// tapBridge points the bridge's tap at the recording (after a new bridge).
func (c *Call) tapBridge() {
	tb, ok := c.bridge.(TappedBridge)
	if !ok || c.recording == nil {
		return
	}
	tb.SetTap(feedRecording(c.recording.rec))
}

// tapMixer points the conference mix's tap at the recording: channel 0
// stays the call's caller (the bridge's first leg before the merge),
// channel 1 is everyone else. A caller who has left (a recording started
// later) gives channel 0 to the host.
func (c *Call) tapMixer() {
	tm, ok := c.conf.mixer.(TappedMixer)
	if !ok || c.recording == nil {
		return
	}
	first := c.caller
	if first.ended && !c.conf.host.ended {
		first = c.conf.host
	}
	tm.SetTap(first.media, feedRecording(c.recording.rec))
}

// feedRecording is a tap feeding rec: A's audio to channel 0, B's to 1.
func feedRecording(rec Recording) func(fromA bool, pcm []int16) {
	return func(fromA bool, pcm []int16) {
		side := 1
		if fromA {
			side = 0
		}
		rec.Feed(side, pcm)
	}
}

// stopRecording finishes the recording off the actor (the file's last
// write and the row's update); tell says the parties hear of it.
func (c *Call) stopRecording(reqID string, by *leg, tell bool) {
	r := c.recording
	if r == nil {
		return
	}
	c.recording = nil
	if tb, ok := c.bridge.(TappedBridge); ok {
		tb.SetTap(nil)
	}
	if c.conf != nil {
		if tm, ok := c.conf.mixer.(TappedMixer); ok {
			tm.SetTap(nil, nil)
		}
	}
	if tell {
		c.tellRecordingState(reqID, by, r.rec.ID(), RecordingStopped)
	}
	c.m.wg.Add(1)
	go func() {
		defer c.m.wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), recordTimeout)
		defer cancel()
		if _, err := r.rec.Stop(ctx); err != nil {
			c.m.log.Warn("recording: stop", "call_id", c.id, "recording_id", r.rec.ID(), "err", err)
		}
	}()
}

// tellRecording tells the parties the recording's current state.
func (c *Call) tellRecording(reqID string, by *leg) {
	r := c.recording
	c.tellRecordingState(reqID, by, r.rec.ID(), r.state())
}

// tellRecordingState tells both parties (every participant of a
// conference); only by's copy has reqID.
func (c *Call) tellRecordingState(reqID string, by *leg, id ident.RecordingID, st RecordingState) {
	parties := []*leg{c.caller, c.winner}
	if c.conf != nil {
		parties = c.conf.parts
	}
	for _, l := range parties {
		if l == nil || l.ended {
			continue
		}
		n := RecordingNotice{RecordingID: id, State: st}
		if l == by {
			n.ReqID, n.Requested = reqID, true
		}
		if rl, ok := l.party.(RecordingListener); ok {
			rl.RecordingChanged(n)
		}
	}
}

// tellJoinedRecording tells a party that joined a conference being
// recorded that it is.
func (c *Call) tellJoinedRecording(l *leg) {
	r := c.recording
	if r == nil || l.ended {
		return
	}
	rl, ok := l.party.(RecordingListener)
	if !ok {
		return
	}
	rl.RecordingChanged(RecordingNotice{RecordingID: r.rec.ID(), State: r.state()})
}

// recordAtAnswer starts the recording of an account that records every
// call; a failure is logged, the call goes on.
func (c *Call) recordAtAnswer() {
	if c.m.recorder == nil || c.recording != nil || c.conf != nil {
		return
	}
	ctx, cancel := context.WithTimeout(c.ctx, recordTimeout)
	defer cancel()
	if err := c.startRecording(ctx, true, "", nil); err != nil && !errors.Is(err, ErrRecordingNotAllowed) {
		c.m.log.Warn("recording: start at answer", "call_id", c.id, "err", err)
	}
}
