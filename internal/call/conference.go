package call

import (
	"fmt"
	"slices"

	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/store"
)

// Mixer mixes a conference's legs: each hears all the others
// (internal/media's Mixer behind an adapter). DTMF is not mixed.
type Mixer interface {
	Add(l MediaLeg) error
	Remove(l MediaLeg)
	// SetMuted leaves l's audio out of the others' mix (server mute).
	SetMuted(l MediaLeg, on bool)
	// SetHeld: l holds, contributes nothing and hears silence.
	SetHeld(l MediaLeg, on bool)
	Stop()
}

// MixingMedia is Media that can mix conferences; without it call.merge is
// refused.
type MixingMedia interface {
	Mixer() (Mixer, error)
}

// ConferenceOptions bound conferences (config conference.*).
type ConferenceOptions struct {
	// MaxParticipants bounds a conference's parties, the host included
	// (0: DefaultMaxParticipants).
	MaxParticipants int
	// HostEnds ends the conference when its host leaves; otherwise the
	// others stay connected.
	HostEnds bool
}

// DefaultMaxParticipants is conference.max_participants' default.
const DefaultMaxParticipants = 10

// Merge joins another answered call of the same device into this one
// (call.merge): the device's leg there ends with "merged" and that call's
// other party becomes a participant of this call, now a conference.
type Merge struct {
	ReqID string
	With  ident.CallID
}

// ParticipantMute mutes or unmutes one participant of a conference for
// everyone (call.participant.mute); only the host may.
type ParticipantMute struct {
	ReqID       string
	Participant ident.LegID
	On          bool
}

// ParticipantRemove hangs up one participant of a conference
// (call.participant.remove); only the host may.
type ParticipantRemove struct {
	ReqID       string
	Participant ident.LegID
}

func (Merge) command()             {}
func (ParticipantMute) command()   {}
func (ParticipantRemove) command() {}

func (m Merge) requestID() string             { return m.ReqID }
func (m ParticipantMute) requestID() string   { return m.ReqID }
func (m ParticipantRemove) requestID() string { return m.ReqID }

// Participant is one party of a conference as its host sees it.
type Participant struct {
	ID           ident.LegID
	Name, Number string
	Host         bool
	Muted, Held  bool
}

// ConferenceInfo lists a conference's participants; ReqID names the
// request it answers, if any.
type ConferenceInfo struct {
	ReqID        string
	Participants []Participant
}

// ConferenceListener is a Party that hears about its conference (a
// device session that merged calls).
type ConferenceListener interface {
	Conference(info ConferenceInfo)
}

// conference is a call whose parties are mixed rather than bridged.
type conference struct {
	mixer Mixer
	host  *leg               // the user who merged the calls
	parts []*leg             // live participants, in the order they joined
	adds  map[string]*adding // call.add calls still ringing, by their caller's key
}

// mergeReq is a call.merge (or an answered call.add) waiting for the
// other call's party.
type mergeReq struct {
	reqID string
	what  string // the request, for refusals: "call.merge", "call.add"
	host  *leg   // the requester, told the outcome
}

// conferencing reports whether the call is a conference.
func (c *Call) conferencing() bool { return c.conf != nil }

// maxParticipants is the configured bound.
func (c *Call) maxParticipants() int {
	if n := c.m.opt.Conference.MaxParticipants; n > 0 {
		return n
	}
	return DefaultMaxParticipants
}

// conferenceCommand applies the conference commands; it reports whether
// cmd was one.
func (c *Call) conferenceCommand(l *leg, dev Device, cmd Command) bool {
	switch m := cmd.(type) {
	case Merge:
		c.onMerge(l, dev, m)
	case Add:
		c.onAdd(l, m)
	case ParticipantMute:
		c.onParticipant(l, m.ReqID, m.Participant, "call.participant.mute", func(p *leg) { c.confMute(p, m.On, m.ReqID) })
	case ParticipantRemove:
		c.onParticipant(l, m.ReqID, m.Participant, "call.participant.remove", func(p *leg) {
			if p == l {
				p.endedBy = ""
			} else {
				p.endedBy = partyName(l)
			}
			c.leave(p, EndHangup, m.ReqID)
		})
	default:
		return false
	}
	return true
}

// mergeRefusal says why l may not merge another call into this one now,
// with the code to answer with, or "".
func (c *Call) mergeRefusal(l *leg, with ident.CallID) (ErrorCode, string) {
	_, mixing := c.m.media.(MixingMedia)
	switch {
	case !mixing:
		return CodeFailed, "this server cannot mix conferences"
	case with == c.id:
		return CodeInvalid, "a call cannot be merged with itself"
	case l.user == "":
		return CodeInvalid, "only a user's device can merge calls"
	case !c.connected() || (c.conf == nil && (c.winner == nil || (l != c.caller && l != c.winner))):
		return CodeInvalid, "only an answered call can be merged"
	case c.conf != nil && l != c.conf.host:
		return CodeInvalid, "only the conference's host can merge calls into it"
	case c.consult != nil || c.original != nil || c.xfer != nil:
		return CodeInvalid, "a call in a transfer cannot be merged"
	case c.size()+c.pending()+1 > c.maxParticipants():
		return CodeConferenceFull, fmt.Sprintf("a conference has at most %d participants", c.maxParticipants())
	}
	return CodeUnknown, ""
}

// pending counts the parties on their way in: merges under way and
// added parties still ringing.
func (c *Call) pending() int {
	n := len(c.merging)
	if c.conf != nil {
		n += len(c.conf.adds)
	}
	return n
}

// size is the number of parties talking in the call.
func (c *Call) size() int {
	if c.conf != nil {
		return len(c.conf.parts)
	}
	return 2
}

// onMerge asks the call m.With to hand its other party over to this call.
func (c *Call) onMerge(l *leg, dev Device, m Merge) {
	refuse := func(code ErrorCode, msg string) {
		dev.Party(c.id).Refused(Refusal{Code: code, ReqID: m.ReqID, Msg: "call.merge: " + msg})
	}
	if code, msg := c.mergeRefusal(l, m.With); msg != "" {
		refuse(code, msg)
		return
	}
	c2 := c.m.memberCall(dev, m.With)
	if c2 == nil || c2 == c {
		refuse(CodeNotFound, fmt.Sprintf("no call %s on this session", m.With))
		return
	}
	c.expectMerge(c2, &mergeReq{reqID: m.ReqID, what: "call.merge", host: l})
	key := l.party.Key()
	c2.post(event{fn: func() { c2.mergeOut(c, key) }, dropped: func() {
		c.post(event{fn: func() { c.mergeFailed(c2, "the other call has ended") }})
	}})
}

// mergeFailed answers a merge that could not happen; the call stays as it
// was.
func (c *Call) mergeFailed(with *Call, msg string) {
	req := c.merging[with]
	if req == nil {
		return
	}
	delete(c.merging, with)
	req.host.party.Refused(Refusal{Code: CodeFailed, ReqID: req.reqID, Msg: req.what + ": " + msg})
}

// mergeSet holds the merges under way, by the call that hands over.
type mergeSet map[*Call]*mergeReq

// expectMerge records that with is to hand its other party over.
func (c *Call) expectMerge(with *Call, req *mergeReq) {
	if c.merging == nil {
		c.merging = mergeSet{}
	}
	c.merging[with] = req
}

// mergeOutRefusal says why this call cannot hand its other party over to
// a conference (t is the host's leg here), or "".
func (c *Call) mergeOutRefusal(t *leg) string {
	switch {
	case t == nil || c.state == StateEnded:
		return "the other call has ended"
	case c.conf != nil:
		return "the other call is a conference: merge this call into it instead"
	case !c.connected() || c.winner == nil || (t != c.caller && t != c.winner):
		return "the other call is not answered"
	case c.consult != nil || c.original != nil || c.xfer != nil:
		return "the other call is in a transfer"
	case len(c.merging) > 0:
		return "a call is being merged into the other call"
	}
	return ""
}

// mergeOut runs on the call being merged: the host's leg (hostKey) ends
// with "merged" and the other leg moves, media and all, to into; this
// actor then stops and forwards what its parties still send.
func (c *Call) mergeOut(into *Call, hostKey string) {
	t := c.legOf(hostKey)
	if msg := c.mergeOutRefusal(t); msg != "" {
		into.post(event{fn: func() { into.mergeFailed(c, msg) }})
		return
	}
	d := c.other(t)
	resumeD := c.dropBridgedLeg(t, EndMerged)
	c.handOff(into, d, func() {
		c.rec.mergedInto(fmt.Sprintf("merged by %s: %s joined conference call %s", partyName(t), partyName(d), into.id),
			c.legStats(), d.id)
	}, func() { into.adoptMerged(c, d, resumeD) })
}

// adoptMerged runs on the conference: d, the merged call's other party,
// joins it (the call becomes a conference on its first merge).
func (c *Call) adoptMerged(from *Call, d *leg, resumeD bool) {
	req := c.merging[from]
	delete(c.merging, from)
	if c.state == StateEnded || req == nil || (req.host.ended && c.conf == nil) {
		d.party.Ended(EndHangup, nil)
		_ = d.media.Close()
		return
	}
	if c.conf == nil {
		if err := c.startConference(req.host); err != nil {
			c.m.log.Error("conference: mixer", "call_id", c.id, "err", err)
			d.party.Ended(EndFailed, nil)
			_ = d.media.Close()
			req.host.party.Refused(Refusal{Code: CodeFailed, ReqID: req.reqID, Msg: req.what + ": " + err.Error()})
			return
		}
	}
	if err := c.conf.add(d); err != nil {
		// d cannot be heard: it is not left in the call half-joined.
		c.m.log.Error("conference: add", "call_id", c.id, "err", err)
		d.party.Ended(EndFailed, nil)
		_ = d.media.Close()
		req.host.party.Refused(Refusal{Code: CodeFailed, ReqID: req.reqID, Msg: req.what + ": " + err.Error()})
		return
	}
	c.callees = append(c.callees, d)
	c.joined = append(c.joined, d)
	if resumeD {
		d.party.Resumed()
	}
	c.tellJoinedRecording(d)
	c.settleConference()
	c.rec.noted(fmt.Sprintf("%smerged by %s: %s joined from call %s", notePrefix(c.rec.record().Transfer),
		partyName(req.host), partyName(d), from.id))
	c.rec.save()
	c.m.log.Info("call merged", "call_id", c.id, "from", from.id, "participants", len(c.conf.parts))
	c.confUpdated(req.reqID)
}

func notePrefix(existing string) string {
	if existing == "" {
		return ""
	}
	return "; "
}

// startConference turns the bridged call into a conference hosted by
// host: the bridge gives way to a mixer, and a hold by the host ends (the
// host is talking to everyone now).
func (c *Call) startConference(host *leg) error {
	mx, err := c.m.media.(MixingMedia).Mixer()
	if err != nil {
		return err
	}
	o := c.other(host)
	if c.bridge != nil {
		c.bridge.Stop()
		c.bridge = nil
	}
	c.conf = &conference{mixer: mx, host: host}
	if host.holding {
		host.holding = false
		host.party.Resumed()
		if !o.holding {
			o.party.Resumed()
		}
	}
	for _, l := range []*leg{c.caller, c.winner} {
		if err := c.conf.add(l); err != nil {
			c.unmix()
			return err
		}
	}
	c.tapMixer() // a recording goes on, from the mix
	return nil
}

// unmix undoes a conference that could not start: the two parties are
// bridged again (or, failing that, the call fails).
func (c *Call) unmix() {
	c.conf.stop()
	c.conf = nil
	br, err := c.m.media.Bridge(c.caller.media, c.winner.media)
	if err != nil {
		c.m.log.Error("conference: bridge again", "call_id", c.id, "err", err)
		c.end(EndFailed)
		return
	}
	c.bridge = br
	c.applyFeeds()
	c.tapBridge()
}

// add mixes l in with its hold and mute as they stand.
func (cf *conference) add(l *leg) error {
	if err := cf.mixer.Add(l.media); err != nil {
		return err
	}
	cf.mixer.SetHeld(l.media, l.holding)
	cf.mixer.SetMuted(l.media, l.muted)
	cf.parts = append(cf.parts, l)
	return nil
}

// stop ends the mix (when the call ends).
func (cf *conference) stop() {
	if cf != nil {
		cf.mixer.Stop()
		cf.cancelAdds()
	}
}

// settleConference puts the conference in the state its parties' holds
// say: held while any participant holds.
func (c *Call) settleConference() {
	next := StateActive
	for _, l := range c.conf.parts {
		if l.holding {
			next = StateHeld
		}
	}
	if c.state != next {
		c.setState(next)
	}
}

// leave takes l out of the conference, ending its leg with reason. The
// conference ends when fewer than two are left, or when the host leaves
// and conference.host_leaves is "end".
func (c *Call) leave(l *leg, reason EndReason, reqID string) {
	cf := c.conf
	i := slices.Index(cf.parts, l)
	if i < 0 {
		return
	}
	cf.mixer.Remove(l.media)
	cf.parts = slices.Delete(cf.parts, i, i+1)
	c.closeLeg(l, reason)
	if len(cf.parts) < 2 || (l == cf.host && c.m.opt.Conference.HostEnds) {
		c.end(EndHangup)
		return
	}
	c.settleConference()
	c.rec.save()
	c.confUpdated(reqID)
}

// confHold is a participant holding or resuming: it hears silence and is
// not heard meanwhile; the others go on.
func (c *Call) confHold(l *leg, on bool) {
	if l.holding == on {
		verb := map[bool]string{true: "call.hold: the call is already on hold from this side",
			false: "call.resume: the call is not on hold from this side"}
		refuse(l, CodeInvalid, verb[on])
		return
	}
	l.holding = on
	c.conf.mixer.SetHeld(l.media, on)
	if on {
		l.party.Held(HeldLocal)
	} else {
		l.party.Resumed()
	}
	c.settleConference()
	c.confUpdated("")
}

// confMute mutes or unmutes a participant for everyone; reqID names the
// request the host hears answered.
func (c *Call) confMute(l *leg, on bool, reqID string) {
	l.muted = on
	c.conf.mixer.SetMuted(l.media, on)
	c.confUpdated(reqID)
}

// onParticipant applies a host's request about one participant.
func (c *Call) onParticipant(l *leg, reqID string, id ident.LegID, what string, apply func(p *leg)) {
	refuse := func(code ErrorCode, msg string) { // under the call id l's party knows
		l.party.Refused(Refusal{Code: code, ReqID: reqID, Msg: what + ": " + msg})
	}
	if c.conf == nil {
		refuse(CodeInvalid, "the call is not a conference")
		return
	}
	if l != c.conf.host {
		refuse(CodeInvalid, "only the conference's host can do this")
		return
	}
	for _, p := range c.conf.parts {
		if p.id == id {
			apply(p)
			return
		}
	}
	refuse(CodeNotFound, fmt.Sprintf("no participant %s in this conference", id))
}

// confUpdated tells the host (when it listens) who is in the conference.
func (c *Call) confUpdated(reqID string) {
	cf := c.conf
	if cf == nil || cf.host.ended {
		return
	}
	lis, ok := cf.host.party.(ConferenceListener)
	if !ok {
		return
	}
	info := ConferenceInfo{ReqID: reqID}
	for _, l := range cf.parts {
		info.Participants = append(info.Participants, Participant{ID: l.id, Name: l.name, Number: l.num,
			Host: l == cf.host, Muted: l.muted, Held: l.holding})
	}
	lis.Conference(info)
}

// mergedInto closes the record of a call merged into a conference: the
// leg that went on ends "joined", the call "merged".
func (r *recorder) mergedInto(note string, legs []store.LegStats, joined ident.LegID) {
	for i := range legs {
		if legs[i].LegID == joined {
			legs[i].EndReason = "joined"
		}
	}
	r.transferred(note)
	r.ended(EndMerged, legs)
}
