package sipua

import (
	"sync"
	"time"

	"github.com/switchboard-voice/switchboard/internal/call"
	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/media"
)

// rtpActivity is what the RTP watchdog reads of a SIP leg's media (the
// RTP endpoint the call made for the party).
type rtpActivity interface {
	InactiveFor() time.Duration
	RemoteDirection() string
}

// rtpWatch ends a call whose SIP leg stopped sending RTP (a phone that
// lost power or its network, a trunk that forgot the call): when the leg's
// media has been silent for media.timeout while its last description says
// it sends and receives, the party reports the call failed (and the call
// sends BYE). A leg on hold (sendonly, inactive, c=0.0.0.0) or recvonly
// says it may not send, so silence is not a failure then. It is the media
// watchdog that browser legs use (internal/media), fed with the RTP
// endpoint's activity (RTP or RTCP from the party).
// The zero value is ready to use.
type rtpWatch struct {
	mu      sync.Mutex
	media   call.LegMedia
	leg     ident.LegID
	dog     *media.Watchdog
	stopped bool
}

// newMedia makes the party's RTP endpoint and remembers it.
func (w *rtpWatch) newMedia(m call.Media, id ident.LegID) (call.LegMedia, error) {
	lm, err := m.NewRTP(id)
	if err == nil {
		w.mu.Lock()
		w.media, w.leg = lm, id
		w.mu.Unlock()
	}
	return lm, err
}

// start watches the media (once the call is answered) when it is an RTP
// leg and the timeout is set; onTimeout runs once, on its own goroutine.
// After stop it does nothing.
func (w *rtpWatch) start(u *UA, onTimeout func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	a, ok := w.media.(rtpActivity)
	if !ok || u.rtpTimeout <= 0 || w.stopped || w.dog != nil {
		return
	}
	leg := w.leg
	w.dog = media.NewWatchdog(u.rtpTimeout, func() (time.Duration, bool) {
		return a.InactiveFor(), a.RemoteDirection() == "sendrecv"
	}, func(_ string, idle time.Duration) {
		u.log.Warn("sip: no RTP from the party, ending the call", "leg", leg, "idle", idle.Round(time.Millisecond))
		onTimeout()
	})
}

// stop ends the watch for good.
func (w *rtpWatch) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopped = true
	if w.dog != nil {
		w.dog.Stop()
	}
}
