// Package softphone is a Go client of Switchboard's signalling protocol v1
// with real WebRTC audio. It is what end-to-end tests, the load generator
// and users' bots use to place, answer and control calls.
//
// A Phone is one device session: one WebSocket to /v1/webrtc. Each Call owns
// a pion PeerConnection with a single audio track. The phone sends the
// call's Source (PCM at SourceRate, encoded with the configured codec) every
// 20 ms and decodes what it hears into the call's Detector, so a program can
// check which tones it receives.
//
// Server frames are delivered as values of the protocol package (pointers,
// as protocol.DecodeServer returns them): replies go to the request that
// named their req_id, call frames to the Call's Events, and the rest to
// Phone.Errors or Phone.Notifications.
//
// Usage:
//
//	p, err := softphone.Connect(ctx, softphone.Config{
//		URL:    "ws://127.0.0.1:8080/v1/webrtc",
//		Token:  token,
//		Source: audio.NewTone(1000, softphone.SourceRate, 0.5),
//	})
//	if err != nil {
//		return err
//	}
//	defer p.Close()
//
//	call, err := p.Call(ctx, "102")
//	if err != nil {
//		return err
//	}
//	if _, err := call.WaitFor(ctx, protocol.TypeCallAnswered); err != nil {
//		return err
//	}
//	// ... later: is the far end sending a 440 Hz tone?
//	heard := call.Detector().Level(440) > 0.5
//	_ = heard
//	return call.Hangup()
//
// Inbound calls arrive on Phone.Incoming once their offer is applied:
//
//	c := <-p.Incoming()
//	err := c.Answer(ctx)
//
// Media does not ride on the socket, so calls survive losing it, as in a
// browser. A lost socket (DropConnection, a network error, the server
// closing it without a fatal error, all signalled by Disconnected) leaves
// the phone disconnected, not finished: calls keep their media and Events,
// sends return ErrDisconnected, and Reconnect resumes the session:
//
//	<-p.Disconnected()
//	if err := p.Reconnect(ctx); err != nil {
//		return err // retry with backoff, or Close
//	}
//	if !p.Reconnected() {
//		// The session expired: its calls have ended with reason "hangup".
//	}
//
// Only a fatal error frame or Close finishes a phone (Done, Err).
//
// Close closes the socket without hanging calls up (as a dropped socket
// would), stops every call's media and waits for all goroutines.
package softphone
