// Package call owns calls: each call is an actor (one goroutine with an
// event channel owns its state), made of legs that reach devices. WebSocket
// readers, SIP handlers and media callbacks post events to it; nothing else
// touches a call's state. The package sees media and devices only through
// the small interfaces below: it imports neither pion nor sipgo, nor the
// browser protocol.
//
// In: devices send typed commands (Create, and Answer, Hold, Transfer, …
// through Manager.Command); SIP dialogs report through Remote. Out: every
// party hears typed events through its Party (Incoming, Answered, Held,
// Ended with an EndReason, Refused with an ErrorCode, …). The edges
// translate: internal/callwire between commands/events and JSON frames,
// internal/sipua between them and SIP.
package call

import (
	"context"
	"fmt"
	"time"

	"github.com/switchboard-voice/switchboard/internal/emergency"
	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/park"
	"github.com/switchboard-voice/switchboard/internal/route"
)

// Devices finds a user's device sessions (the signalling hub).
type Devices interface {
	UserDevices(user ident.UserID) []Device
}

// MediaStats are one leg's media counters for the call record.
type MediaStats struct {
	Codec                    string
	PacketsSent              uint64
	PacketsReceived          uint64
	PacketsLost              int64
	JitterMillis             float64
	BytesSent, BytesReceived uint64 // RTP payload bytes
	// RTTMillis is the leg's round-trip time from RTCP; 0: unknown.
	RTTMillis float64
	// LossRuns counts runs of lost packets (for the burst ratio).
	LossRuns uint64
	// Remote is the device's own report of what it receives from the
	// server (RTCP), the leg's other direction; RemoteReports 0: none.
	RemoteReports      uint64
	RemoteLossPct      float64
	RemoteJitterMillis float64
}

// MediaLeg is a leg's media endpoint on the server.
type MediaLeg interface {
	Stats() MediaStats
	Close() error
}

// LegMedia is a leg's media endpoint with its offer/answer exchange: a
// WebRTC endpoint for devices, a plain RTP endpoint for SIP parties.
type LegMedia = WebRTCMedia

// WebRTCMedia is a leg's media with SDP offer/answer (candidates are a
// no-op for plain RTP).
type WebRTCMedia interface {
	MediaLeg
	AnswerOffer(ctx context.Context, offer string) (string, error)
	CreateOffer(ctx context.Context) (string, error)
	SetAnswer(answer string) error
	Reoffer(ctx context.Context, offer string) (string, error)
	AddCandidate(candidate string, mid *string, index *uint16) error
}

// Feed is what one party hears through a bridge.
type Feed int

// Feeds.
const (
	FeedForward  Feed = iota // the other party's audio
	FeedSilence              // silence: the other party is muted, or this party holds
	FeedMusic                // music on hold: the other party holds
	FeedRingback             // ringback: a transfer target rings (Media.Play only)
)

// Stopper is something playing that can be stopped (idempotent).
type Stopper interface{ Stop() }

// Bridge joins two legs' media until stopped.
type Bridge interface {
	// SetFeeds sets what the first and the second leg given to
	// Media.Bridge hear.
	SetFeeds(toA, toB Feed)
	// SendDigit plays a DTMF digit (RFC 4733) to the first leg (toA) or
	// the second, as if the other had sent it.
	SendDigit(toA bool, digit rune, duration time.Duration) error
	Stop()
}

// Media makes media endpoints and bridges (internal/media behind an adapter).
type Media interface {
	NewWebRTC(id ident.LegID) (WebRTCMedia, error)
	// NewRTP makes a plain RTP endpoint for a SIP party.
	NewRTP(id ident.LegID) (LegMedia, error)
	Bridge(a, b MediaLeg) (Bridge, error)
	// Play plays f (FeedRingback or FeedMusic) to one leg, no bridge needed.
	Play(l MediaLeg, f Feed) (Stopper, error)
	// Echo sends l's audio and DTMF back to it (the echo test).
	Echo(l MediaLeg) (Stopper, error)
}

// Phones finds a user's registered SIP contacts and makes callee parties
// for them that report to r.
type Phones interface {
	CalleeParties(user ident.UserID, r Remote) []Party
}

// TrunkRequest is a call out through the trunks.
type TrunkRequest struct {
	Account ident.AccountID
	// Number is E.164, or an emergency number as dialled.
	Number string
	// CallerID is what the caller asked to present (already checked as
	// the account's own), or empty.
	CallerID string
	// Emergency calls go to Trunk first when it is set.
	Emergency bool
	Trunk     string
	// Location is the caller's bound emergency address (emergency calls
	// from a device session that bound one), or nil.
	Location *emergency.Location
}

// Trunks reaches numbers outside the account through SIP trunks.
type Trunks interface {
	// TrunkParty returns one party that calls the number through the
	// trunks that carry it, failing over between them by itself, or nil
	// when no trunk carries it.
	TrunkParty(req TrunkRequest, r Remote) Party
	// Infos lists the trunks for routing decisions.
	Infos() []route.TrunkInfo
}

// SelfAlerting is a party that reports its own alerting through
// Remote.Ringing (a trunk's 180 or 183): the caller hears call.ringing only
// then, not as soon as the party is offered the call.
type SelfAlerting interface {
	AlertsItself() bool
}

// Remote is how a party that is not a device session (a SIP dialog) reports
// to its call. Every method posts to the call's actor and returns at once.
type Remote interface {
	// Answered: the party accepted with its SDP answer (a 2xx).
	Answered(key, sdp string)
	// Rejected: the party refused (busy for 486/600, else a decline).
	Rejected(key string, busy bool)
	// Failed: the party could not be reached (timeouts, 404, 5xx).
	// reason, when set, is the reason the call ends with if this was its
	// last ringing party; empty leaves it to ring-all (no-answer).
	Failed(key string, reason EndReason)
	// Ringing: the party's far end is alerting (180, or 183).
	Ringing(key string)
	// EarlyMedia: the party answered the offer provisionally (a 183 with
	// SDP); its media reaches the caller before the answer.
	EarlyMedia(key, sdp string)
	// HungUp: the party ended the call (BYE, or CANCEL while ringing).
	HungUp(key string)
	// Reoffered: the party sent a new offer (re-INVITE); hold says whether
	// it puts the call on hold (sendonly/inactive). answer gets the
	// server's answer, or an error.
	Reoffered(key, sdp string, hold bool, answer func(string, error))
	// Digit: the party sent a DTMF digit out of band (SIP INFO); the other
	// party of a connected call gets it as an RFC 4733 event.
	Digit(key string, digit rune, duration time.Duration)
	// Transfer: the party asked to transfer the other party (a REFER).
	// With replaces empty it is blind, to destination; otherwise replaces
	// is the key of the party's leg in another call (the dialog a
	// Replaces names), whose other party is joined to this call's. done
	// gets nil once the transfer is under way, or why it was refused; the
	// party's leg then ends with "transferred".
	Transfer(key, destination, replaces string, done func(error))
}

// Directory is what calls read about users, numbers and routing.
type Directory interface {
	route.Dir
}

// State is a call's state.
//
//	trying ──alerted──▶ ringing ──answer──▶ answering ──sdp.answer──▶ active ◀──resume──┐
//	  │                    │                    │                        │  └──hold──▶ held
//	  └────────────────────┴──────── end ───────┴────────────────────────┴──────────────┴──▶ ended
//
// trying: routing and preparing legs; ringing: at least one device alerted;
// answering: a device answered and its SDP answer is awaited; active: media
// bridged; held: bridged with at least one party holding (music to the
// other); ended: terminal, the actor stops.
//
// Two more edges: trying → active for the echo test (nothing rings), and
// active/held → ringing when a blind transfer rings its target while the
// transferred party waits with ringback.
type State int

// Call states.
const (
	StateUnknown State = iota
	StateTrying
	StateRinging
	StateAnswering
	StateActive
	StateHeld
	StateEnded
	StateParked // the remaining party waits in a park slot (park.go)
)

var stateNames = [...]string{"unknown", "trying", "ringing", "answering", "active", "held", "ended", "parked"}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("state(%d)", int(s))
}

// transitions lists the legal edges of the state machine.
var transitions = map[State][]State{
	StateTrying:    {StateRinging, StateActive, StateEnded}, // active: the echo test answers at once
	StateRinging:   {StateAnswering, StateEnded},
	StateAnswering: {StateActive, StateEnded},
	StateActive:    {StateHeld, StateRinging, StateParked, StateEnded}, // ringing: a blind transfer's target
	StateHeld:      {StateActive, StateRinging, StateParked, StateEnded},
	StateParked:    {StateRinging, StateEnded}, // ringing: the park timed out, the parker is rung
}

// ErrIllegalTransition is returned for an edge the table does not have.
type ErrIllegalTransition struct{ From, To State }

func (e ErrIllegalTransition) Error() string {
	return fmt.Sprintf("call: illegal transition %s → %s", e.From, e.To)
}

func checkTransition(from, to State) error {
	for _, s := range transitions[from] {
		if s == to {
			return nil
		}
	}
	return ErrIllegalTransition{from, to}
}

// Options configure a Manager.
type Options struct {
	// RingTimeout applies to users with no ring time of their own.
	RingTimeout time.Duration
	// MediaTimeout bounds preparing a leg's media (ICE gathering).
	MediaTimeout time.Duration
	// AnswerTimeout bounds the wait for a device's SDP answer after call.answer.
	AnswerTimeout time.Duration
	// TransferRecall rings a blind transfer's transferor back when the
	// target does not take the call.
	TransferRecall bool
	// Park holds the park slots (call.park, transfers to ParkCode,
	// pickups by dialling a slot); nil: parking is refused.
	Park *park.Lot
	// ParkElsewhere, in a cluster, may hand a call.create to a park slot
	// that node holds (the parked call is there) to that node, as
	// Overflow hands one to a node with room; it reports whether it took
	// it. here places the call on this node after all.
	ParkElsewhere func(dev Device, cr Create, early []Candidate, node string, here func()) bool
	// ParkTimeout is how long a call stays parked before the parker is
	// rung back; 0: park.DefaultTimeout.
	ParkTimeout time.Duration
	// Limits bound call creation (see limits.go); zero fields: no limit.
	Limits Limits
	// Conference bounds merged calls (conference.go).
	Conference ConferenceOptions
	// PeerWithRoom, when set, names a cluster node that takes calls and is
	// under its ceiling ("" when none), for a call refused at this node's
	// (Limits.MaxCalls). It is called under the manager's lock: it must
	// not block (a value the cluster link refreshes each heartbeat).
	PeerWithRoom func() string
	// Overflow, when set, may hand a call.create this node has no room for
	// (a node ceiling) to another node; it reports whether it took it.
	// early are the candidates trickled under the request's req_id so far;
	// here places the call on this node after all (refused while it is
	// still full), for when the other node will not take it. It is called
	// outside the manager's lock and must not block.
	Overflow func(dev Device, cr Create, early []Candidate, here func()) bool
	// Observer, when set, is told of calls starting, answered and ending.
	Observer Observer
	// Activity, when set, is told each user's part in each call (presence).
	Activity Activity
	// Clock makes the actors' timers; nil is the wall clock.
	Clock Clock
	// Node, in a cluster, is this node's id: call ids carry it (the node
	// that receives a call owns it). Empty: plain call ids.
	Node string
}

// newCallID is a fresh id for a call this manager runs.
func (m *Manager) newCallID() ident.CallID { return ident.NewCallIDOn(m.opt.Node) }
