package softphone

import (
	"context"
	"sync"

	"github.com/pion/webrtc/v4"

	"github.com/switchboard-voice/switchboard/internal/protocol"
)

// offer creates and applies a local offer, with all candidates gathered
// when wait is set.
func (c *Call) offer(ctx context.Context, wait bool) (string, error) {
	pc := c.ep.peer()
	if pc == nil {
		return "", ErrCallEnded
	}
	c.negMu.Lock()
	defer c.negMu.Unlock()
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		return "", err
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		return "", err
	}
	if !wait {
		return offer.SDP, nil
	}
	if err := c.waitGathered(ctx, gathered); err != nil {
		return "", err
	}
	return pc.LocalDescription().SDP, nil
}

// trickler sends local candidates as ice.candidate frames, holding them
// until the call has an id.
type trickler struct {
	p      *Phone
	mu     sync.Mutex
	callID string
	held   []*webrtc.ICECandidate
	ended  bool // the nil candidate (gathering done) was seen
}

func (t *trickler) add(cand *webrtc.ICECandidate) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.callID == "" {
		if cand == nil {
			t.ended = true
		} else {
			t.held = append(t.held, cand)
		}
		return
	}
	t.send(cand)
}

func (t *trickler) start(callID string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.callID = callID
	for _, c := range t.held {
		t.send(c)
	}
	if t.ended {
		t.send(nil)
	}
	t.held = nil
}

// send runs under t.mu so the frames keep their order.
func (t *trickler) send(cand *webrtc.ICECandidate) {
	if cand == nil {
		_ = t.p.Send(protocol.ICEDone{CallID: t.callID})
		return
	}
	init := cand.ToJSON()
	m := protocol.ICECandidate{CallID: t.callID, Candidate: init.Candidate}
	if init.SDPMid != nil {
		m.SDPMid = *init.SDPMid
	}
	if init.SDPMLineIndex != nil {
		m.SDPMLineIndex = *init.SDPMLineIndex
	}
	_ = t.p.Send(m)
}

func (c *Call) waitGathered(ctx context.Context, gathered <-chan struct{}) error {
	select {
	case <-gathered:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-c.quit:
		return ErrCallEnded
	}
}

// onOffer applies a server offer. The first offer of an inbound call waits
// for Answer (true: deliver the call on Incoming); later ones are answered.
func (c *Call) onOffer(sdp string) bool {
	desc := webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sdp}
	if c.Direction == protocol.DirectionInbound && !c.offered && !c.restored {
		c.offered = true
		pc := c.ep.peer()
		if pc == nil {
			return false
		}
		c.negMu.Lock()
		defer c.negMu.Unlock()
		if err := pc.SetRemoteDescription(desc); err != nil {
			c.p.log.Warn("softphone: applying offer", "err", err)
		}
		c.flushCandidates(pc)
		return true
	}
	pc, err := c.ep.start(c.p.api)
	if err != nil {
		c.p.log.Warn("softphone: no media for re-offer", "err", err)
		return false
	}
	c.negMu.Lock()
	defer c.negMu.Unlock()
	if err := pc.SetRemoteDescription(desc); err != nil {
		c.p.log.Warn("softphone: applying re-offer", "err", err)
		return false
	}
	c.flushCandidates(pc)
	if !c.negotiated && !c.restored {
		return false // not answered yet: Answer answers the latest offer
	}
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		c.p.log.Warn("softphone: answering re-offer", "err", err)
		return false
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(answer); err != nil {
		c.p.log.Warn("softphone: answering re-offer", "err", err)
		return false
	}
	if c.waitGathered(context.Background(), gathered) != nil {
		return false
	}
	c.negotiated = true
	if err := c.p.Send(protocol.SDPAnswer{CallID: c.ID, SDP: pc.LocalDescription().SDP}); err != nil {
		c.p.log.Warn("softphone: sending sdp.answer", "err", err)
	}
	return false
}

// applyRemote applies the server's (provisional) answer to our offer.
//
// pion starts no media on a description of type pranswer, so an
// sdp.pranswer is applied as an answer: early media flows. A final
// sdp.answer that differs from it is then applied through a local
// re-offer (same ICE credentials and candidates; nothing is sent).
func (c *Call) applyRemote(typ webrtc.SDPType, sdp string) {
	pc := c.ep.peer()
	if pc == nil {
		return
	}
	c.negMu.Lock()
	defer c.negMu.Unlock()
	final := typ == webrtc.SDPTypeAnswer
	if pc.SignalingState() == webrtc.SignalingStateStable && c.early != "" {
		if sdp == c.early {
			c.negotiated = c.negotiated || final
			c.early = ""
			return
		}
		offer, err := pc.CreateOffer(nil)
		if err == nil {
			err = pc.SetLocalDescription(offer)
		}
		if err != nil {
			c.p.log.Warn("softphone: re-offering after pranswer", "err", err)
			return
		}
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp}); err != nil {
		c.p.log.Warn("softphone: applying "+typ.String(), "err", err)
		return
	}
	c.early = ""
	if final {
		c.negotiated = true
	} else {
		c.early = sdp
	}
	c.flushCandidates(pc)
}

func (c *Call) onCandidate(m *protocol.ICECandidate) {
	if m.Candidate == "" {
		return
	}
	cand := webrtc.ICECandidateInit{Candidate: m.Candidate, SDPMLineIndex: &m.SDPMLineIndex}
	if m.SDPMid != "" {
		cand.SDPMid = &m.SDPMid
	}
	pc := c.ep.peer()
	if pc == nil || pc.RemoteDescription() == nil {
		c.cands = append(c.cands, cand)
		return
	}
	if err := pc.AddICECandidate(cand); err != nil {
		c.p.log.Warn("softphone: adding candidate", "err", err)
	}
}

func (c *Call) flushCandidates(pc *webrtc.PeerConnection) {
	for _, cand := range c.cands {
		if err := pc.AddICECandidate(cand); err != nil {
			c.p.log.Warn("softphone: adding candidate", "err", err)
		}
	}
	c.cands = nil
}

// Events delivers every server frame about this call, in order, as the
