package softphone

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/pion/webrtc/v4"

	"github.com/switchboard-voice/switchboard/audio"
	"github.com/switchboard-voice/switchboard/internal/protocol"
)

// CallOption adjusts a call.create.
type CallOption func(*callOptions)

type callOptions struct {
	callerID     string
	trickle      bool
	reqIDTrickle bool
}

// WithTrickle sends the offer before ICE gathering ends, with no
// candidates in it, and trickles them with ice.candidate and ice.done once
// call.trying names the call (as browsers do).
func WithTrickle() CallOption {
	return func(o *callOptions) { o.trickle = true }
}

// WithReqIDTrickle trickles the candidates as they are gathered, under the
// request's req_id as call_id, before the request itself (which still
// carries them all in its offer), then under the call id once call.trying
// names it: the wire behaviour of DialStack's browser SDK.
func WithReqIDTrickle() CallOption {
	return func(o *callOptions) { o.reqIDTrickle = true }
}

// WithCallerID sets call.create's caller_id (an E.164 number the account owns).
func WithCallerID(e164 string) CallOption {
	return func(o *callOptions) { o.callerID = e164 }
}

// Call is one call of a Phone. Its fields are set before the Call is handed
// out and never change.
type Call struct {
	ID, From, FromName, To string
	Direction              protocol.Direction

	p        *Phone
	ep       *endpoint
	restored bool // from call.restored: answer the server's re-offers
	events   chan protocol.Message
	box      mailbox
	quit     chan struct{}
	quitOnce sync.Once
	finished chan struct{}

	negMu      sync.Mutex // serializes offer/answer exchanges
	negotiated bool       // guarded by negMu: later offers are re-offers
	early      string     // guarded by negMu: the pranswer applied, until the answer

	// Used by the run goroutine only.
	offered bool                      // inbound: the first offer is applied
	cands   []webrtc.ICECandidateInit // until a remote description is set

	mu      sync.Mutex
	history []protocol.Message
	ended   bool
	reason  protocol.EndReason
	endMsg  *protocol.CallEnded // synthetic call.ended, delivered on teardown
}

// newCall registers a call and starts its goroutine; with media it also
// creates its PeerConnection.
func (p *Phone) newCall(dir protocol.Direction, id string, media bool, init func(*Call)) (*Call, error) {
	src := p.source
	c := &Call{ID: id, Direction: dir, p: p, ep: newEndpoint(p.spec, src, p.log, p.cfg.Impairment),
		events: make(chan protocol.Message, eventBuffer), box: mailbox{ready: make(chan struct{}, 1)},
		quit: make(chan struct{}), finished: make(chan struct{})}
	if init != nil {
		init(c)
	}
	p.mu.Lock()
	if p.closing {
		p.mu.Unlock()
		return nil, ErrClosed
	}
	p.live[c] = struct{}{}
	if id != "" {
		p.calls[id] = c
	}
	p.wg.Add(1)
	p.mu.Unlock()
	go c.run()
	if media {
		if _, err := c.ep.start(p.api); err != nil {
			c.stopWait()
			return nil, err
		}
	}
	return c, nil
}

// forget drops a torn-down call.
func (p *Phone) forget(c *Call) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.live, c)
	if c.ID != "" && p.calls[c.ID] == c {
		delete(p.calls, c.ID)
	}
}

// Call places a call: it creates the PeerConnection and its offer, waits for
// ICE gathering to complete, sends call.create and waits for call.trying
// (returning the Call) or an error frame (returning a *ServerError).
func (p *Phone) Call(ctx context.Context, destination string, opts ...CallOption) (*Call, error) {
	var o callOptions
	for _, opt := range opts {
		opt(&o)
	}
	return p.place(ctx, destination, o, func(reqID, sdp string) protocol.Message {
		return protocol.CallCreate{ReqID: reqID, Destination: destination, SDP: sdp, CallerID: o.callerID}
	})
}

// AttendedTransfer is step one of an attended transfer (protocol §4): the
// server holds c and places a consult call to destination, returned once
// the server accepted it (call.trying). Complete with CompleteTransfer;
// hanging up the consult call cancels and resumes c.
func (c *Call) AttendedTransfer(ctx context.Context, destination string, opts ...CallOption) (*Call, error) {
	var o callOptions
	for _, opt := range opts {
		opt(&o)
	}
	return c.p.place(ctx, destination, o, func(reqID, sdp string) protocol.Message {
		return protocol.CallTransferAttended{ReqID: reqID, CallID: c.ID, Step: protocol.StepConsult,
			Destination: destination, SDP: sdp}
	})
}

// CompleteTransfer is step two of an attended transfer, on the original
// call: its other party is connected to the consult party.
func (c *Call) CompleteTransfer() error {
	return c.p.Send(protocol.CallTransferAttended{CallID: c.ID, Step: protocol.StepComplete})
}

// place makes an outbound call's offer, sends the request mk builds and
// waits for call.trying.
func (p *Phone) place(ctx context.Context, destination string, o callOptions, mk func(reqID, sdp string) protocol.Message) (*Call, error) {
	if !p.Connected() {
		return nil, p.lostErr()
	}
	c, err := p.newCall(protocol.DirectionOutbound, "", true, func(c *Call) { c.To = destination })
	if err != nil {
		return nil, err
	}
	id := p.newReqID()
	var tr *trickler
	switch {
	case o.trickle:
		tr = &trickler{p: p}
	case o.reqIDTrickle:
		tr = &trickler{p: p, callID: id}
	}
	if pc := c.ep.peer(); pc != nil && tr != nil {
		pc.OnICECandidate(tr.add)
	}
	sdp, err := c.offer(ctx, !o.trickle)
	if err != nil {
		c.stopWait()
		return nil, err
	}
	pend, err := p.register(id, c)
	if err != nil {
		c.stopWait()
		return nil, err
	}
	l, err := p.send(mk(id, sdp))
	if err != nil {
		p.unregister(id)
		c.stopWait()
		return nil, err
	}
	reply, err := p.wait(ctx, pend, l)
	if err != nil {
		if tr, ok := p.abandon(id, pend).(*protocol.CallTrying); ok {
			_ = p.Send(protocol.CallHangup{CallID: tr.CallID})
		}
		c.stopWait()
		return nil, err
	}
	switch m := reply.(type) {
	case *protocol.CallTrying:
		if tr != nil {
			tr.start(m.CallID)
		}
		return c, nil
	case *protocol.Error:
		c.stopWait()
		return nil, serverError(m)
	}
	c.stopWait()
	return nil, fmt.Errorf("softphone: unexpected reply %s to call.create", reply.MessageType())
}

// abandon marks a call.create whose caller gave up; a reply that already
// arrived is returned.
func (p *Phone) abandon(id string, pend *pending) protocol.Message {
	p.mu.Lock()
	if p.pending[id] == pend {
		pend.abandoned = true
		p.mu.Unlock()
		return nil
	}
	p.mu.Unlock()
	select {
	case m := <-pend.ch:
		return m
	default:
		return nil
	}
}

// stop makes the call's goroutine tear it down (no signalling).
func (c *Call) stop() { c.quitOnce.Do(func() { close(c.quit) }) }

// endLocally ends the call as if call.ended {reason} had arrived: the
// frame is delivered on teardown, after the media is closed. False when the
// call had already ended.
func (c *Call) endLocally(reason protocol.EndReason) bool {
	c.mu.Lock()
	if c.ended {
		c.mu.Unlock()
		return false
	}
	c.ended, c.reason = true, reason
	c.endMsg = &protocol.CallEnded{CallID: c.ID, Reason: reason}
	c.mu.Unlock()
	c.stop()
	return true
}

func (c *Call) stopWait() {
	c.stop()
	<-c.finished
}

// post queues a server frame for the call's goroutine.
func (c *Call) post(m protocol.Message) { c.box.put(m) }

// run applies and delivers the call's frames in order until call.ended or
// stop, then tears the call down.
func (c *Call) run() {
	defer c.p.wg.Done()
	defer close(c.finished)
	defer func() {
		c.stop()
		c.ep.close()
		c.mu.Lock()
		end := c.endMsg
		c.endMsg = nil
		c.mu.Unlock()
		if end != nil {
			c.deliver(end)
		}
		close(c.events)
		c.p.forget(c)
	}()
	for {
		select {
		case <-c.quit:
			return
		case <-c.box.ready:
		}
		for _, m := range c.box.take() {
			if c.handle(m) {
				return
			}
		}
	}
}

// handle applies one frame and delivers it; true when the call ended.
func (c *Call) handle(msg protocol.Message) bool {
	deliverIncoming := false
	switch m := msg.(type) {
	case *protocol.SDPOffer:
		deliverIncoming = c.onOffer(m.SDP)
	case *protocol.SDPAnswer:
		c.applyRemote(webrtc.SDPTypeAnswer, m.SDP)
	case *protocol.SDPPranswer:
		c.applyRemote(webrtc.SDPTypePranswer, m.SDP)
	case *protocol.ICECandidate:
		c.onCandidate(m)
	case *protocol.CallEnded:
		c.mu.Lock()
		c.ended, c.reason = true, m.Reason
		c.endMsg = nil // a real call.ended supersedes a synthetic one
		c.mu.Unlock()
		c.deliver(m)
		return true
	}
	c.deliver(msg)
	if deliverIncoming {
		select {
		case c.p.incoming <- c:
		case <-c.quit:
		}
	}
	return false
}

// deliver puts a frame on Events; when the buffer is full the oldest frame
// is dropped so the call never stalls.
func (c *Call) deliver(m protocol.Message) {
	for {
		select {
		case c.events <- m:
			return
		default:
		}
		select {
		case old := <-c.events:
			c.p.log.Warn("softphone: Events full, dropped frame", "type", old.MessageType())
		default:
		}
	}
}

// (or when the phone closes). Buffered 256; when full the oldest is dropped.
func (c *Call) Events() <-chan protocol.Message { return c.events }

// Done is closed once the call is torn down (after call.ended or Close).
func (c *Call) Done() <-chan struct{} { return c.finished }

// WaitFor reads Events until a frame of type t and returns it. Frames read
// on the way are kept in History. If call.ended comes first (and t is not
// call.ended) it returns that frame with an error wrapping ErrCallEnded.
func (c *Call) WaitFor(ctx context.Context, t protocol.Type) (protocol.Message, error) {
	for {
		var m protocol.Message
		var ok bool
		select {
		case m, ok = <-c.events:
		case <-ctx.Done():
			return nil, fmt.Errorf("softphone: waiting for %s: %w", t, ctx.Err())
		case <-c.p.done:
			select {
			case m, ok = <-c.events:
			default:
				return nil, fmt.Errorf("softphone: waiting for %s: %w", t, c.p.Err())
			}
		}
		if !ok {
			if reason, ended := c.EndReason(); ended {
				return nil, fmt.Errorf("%w (%s) before %s", ErrCallEnded, reason, t)
			}
			if err := c.p.Err(); err != nil {
				return nil, err
			}
			return nil, ErrCallEnded
		}
		if m.MessageType() == t {
			return m, nil
		}
		c.mu.Lock()
		c.history = append(c.history, m)
		c.mu.Unlock()
		if e, ok := m.(*protocol.CallEnded); ok {
			return m, fmt.Errorf("%w (%s) before %s", ErrCallEnded, e.Reason, t)
		}
	}
}

// History returns the frames WaitFor skipped, oldest first.
func (c *Call) History() []protocol.Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]protocol.Message(nil), c.history...)
}

// Answer accepts an inbound call: it answers the server's offer (waiting
// for ICE gathering), then sends call.answer and sdp.answer.
func (c *Call) Answer(ctx context.Context) error {
	if c.Direction != protocol.DirectionInbound {
		return errors.New("softphone: Answer on an outbound call")
	}
	pc := c.ep.peer()
	if pc == nil {
		return ErrCallEnded
	}
	c.negMu.Lock()
	defer c.negMu.Unlock()
	if pc.RemoteDescription() == nil {
		return errors.New("softphone: no offer to answer")
	}
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		return err
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(answer); err != nil {
		return err
	}
	if err := c.waitGathered(ctx, gathered); err != nil {
		return err
	}
	if err := c.p.Send(protocol.CallAnswer{CallID: c.ID}); err != nil {
		return err
	}
	if err := c.p.Send(protocol.SDPAnswer{CallID: c.ID, SDP: pc.LocalDescription().SDP}); err != nil {
		return err
	}
	c.negotiated = true
	return nil
}

// Reject declines a ringing inbound call ("" lets the server default to decline).
func (c *Call) Reject(reason protocol.RejectReason) error {
	return c.p.Send(protocol.CallReject{CallID: c.ID, Reason: reason})
}

// Hangup sends call.hangup; the call ends when call.ended arrives.
func (c *Call) Hangup() error { return c.p.Send(protocol.CallHangup{CallID: c.ID}) }

// Hold sends call.hold.
func (c *Call) Hold() error { return c.p.Send(protocol.CallHold{CallID: c.ID}) }

// Resume sends call.resume.
func (c *Call) Resume() error { return c.p.Send(protocol.CallResume{CallID: c.ID}) }

// Mute sends call.mute. The phone keeps sending its source: the server's
// mute is authoritative. Use SetSending to stop sending locally.
func (c *Call) Mute() error { return c.p.Send(protocol.CallMute{CallID: c.ID}) }

// Unmute sends call.unmute.
func (c *Call) Unmute() error { return c.p.Send(protocol.CallUnmute{CallID: c.ID}) }

// Transfer sends call.transfer (blind transfer to destination).
func (c *Call) Transfer(destination string) error {
	return c.p.Send(protocol.CallTransfer{CallID: c.ID, Destination: destination})
}

// SetSource switches what the call sends (PCM at SourceRate); nil is silence.
func (c *Call) SetSource(s audio.Source) { c.ep.setSource(s) }

// SetSending starts or stops sending RTP (stopped: no packets at all).
func (c *Call) SetSending(on bool) { c.ep.setSending(on) }

// Detector analyses what this phone hears, decoded to SourceRate PCM, over
// a 500 ms window.
func (c *Call) Detector() *audio.Detector { return c.ep.detector }

// Received is the number of RTP packets received (audio and DTMF).
func (c *Call) Received() (packets uint64) { return c.ep.received.Load() }

// Codec is the negotiated audio codec's MIME type (e.g. "audio/opus"), or
// "" before negotiation completes.
func (c *Call) Codec() string { return c.ep.codecMime() }

// EndReason is call.ended's reason, and whether the call has ended.
func (c *Call) EndReason() (protocol.EndReason, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reason, c.ended
}

// PeerConnection is the call's PeerConnection (nil for a restored call the
// server has not re-offered).
func (c *Call) PeerConnection() *webrtc.PeerConnection { return c.ep.peer() }

// DTMF returns the RFC 4733 digits received so far, one per event.
func (c *Call) DTMF() []rune { return c.ep.dtmf() }

// SendDTMF sends digits (0-9, *, #, A-D) as RFC 4733 telephone-events in the
// call's RTP, 100 ms each with 60 ms gaps, and returns once they are sent.
// It fails when telephone-event was not negotiated.
func (c *Call) SendDTMF(digits string) error { return c.ep.sendDTMF(digits) }

// mailbox is an unbounded queue feeding the call's goroutine, so the
// socket reader never blocks on a call.
type mailbox struct {
	mu    sync.Mutex
	q     []protocol.Message
	ready chan struct{} // buffered 1
}

func (b *mailbox) put(m protocol.Message) {
	b.mu.Lock()
	b.q = append(b.q, m)
	b.mu.Unlock()
	select {
	case b.ready <- struct{}{}:
	default:
	}
}

func (b *mailbox) take() []protocol.Message {
	b.mu.Lock()
	defer b.mu.Unlock()
	q := b.q
	b.q = nil
	return q
}
