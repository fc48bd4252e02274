package media

// mixTap is a conference's recording tap: channel A is first's own
// voice, channel B what first hears from the others.
type mixTap struct {
	first Endpoint
	fn    func(fromA bool, pcm []int16)
}

// SetTap routes a conference's audio to t (nil: none), every tick, at
// TapRate, on the mixer's goroutine (t must not block): fromA is first's
// own decoded voice (nothing while it is silent, muted or holding, as a
// bridge taps), the other channel the mix of every other participant that
// is heard (nothing when none is). A first that is not (or no longer) in
// the mix taps nothing of its own, and the other channel carries
// everyone. A tick already under way when t is replaced may still call
// the previous t once.
func (m *Mixer) SetTap(first Endpoint, t func(fromA bool, pcm []int16)) {
	var tap *mixTap
	if t != nil {
		tap = &mixTap{first: first, fn: t}
	}
	m.mu.Lock()
	m.tap = tap
	m.mu.Unlock()
}

// Beep mixes the recording beep (the bridge's) into what every
// participant hears, once. It returns at once.
func (m *Mixer) Beep() { m.Announce(beepPCM()) }

// Announce mixes pcm (at TapRate, never written) once into what every
// participant that is not holding hears, from the next tick. An
// announcement still playing is not interrupted: pcm is dropped.
func (m *Mixer) Announce(pcm []int16) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed || m.ann.pos < len(m.ann.buf) {
		return
	}
	m.ann = once{buf: pcm}
}

// nextAnnouncedLocked returns this tick's n samples of the announcement
// (fewer at its end, nil when none plays); they are read, never written.
func (m *Mixer) nextAnnouncedLocked(n int) []int16 {
	a := &m.ann
	if a.pos >= len(a.buf) {
		return nil
	}
	end := min(a.pos+n, len(a.buf))
	f := a.buf[a.pos:end]
	a.pos = end
	return f
}

// feedTap hands this tick's frames to the tap: first's own voice, and the
// sum less it (clipped, in the mixer's scratch buffer).
func (m *Mixer) feedTap(tap *mixTap, parts []*mixPart, sum []int32) {
	var own []int16
	others := false
	for _, p := range parts {
		switch {
		case p.ep == tap.first:
			own = p.frame
		case p.frame != nil:
			others = true
		}
	}
	if own != nil {
		tap.fn(true, own)
	}
	if !others {
		return
	}
	if m.tapOut == nil {
		m.tapOut = make([]int16, len(sum))
	}
	mixFor(m.tapOut, sum, own, false)
	tap.fn(false, m.tapOut)
}

// addAnnounced mixes an announcement's frame into out, clipped; a short
// last frame leaves the rest of out as it is.
func addAnnounced(out, ann []int16) {
	for i, s := range ann {
		out[i] = clip(int32(out[i]) + int32(s))
	}
}
