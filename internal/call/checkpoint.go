package call

import (
	"context"
	"slices"
	"time"

	"github.com/switchboard-voice/switchboard/internal/store"
)

// checkpointInterval is how often a live call saves its record's legs and
// when media was last seen, so that a crash (kill -9) loses at most this
// much: the next start closes the record at that time, with those stats.
const checkpointInterval = 5 * time.Second

// checkpoints is the actor's checkpointing state.
type checkpoints struct {
	to        store.CallCheckpoints // nil: the store keeps no checkpoints
	timer     Timer
	writing   bool      // a write is in flight: the next tick skips its own
	received  uint64    // packets received over the legs at the last tick
	lastMedia time.Time // the last tick that saw media (or a held call)
}

// startCheckpoints arms the periodic checkpoint, when the store keeps them.
func (c *Call) startCheckpoints() {
	to, ok := c.m.records.(store.CallCheckpoints)
	if !ok {
		return
	}
	c.ck.to = to
	c.ck.timer = c.after(checkpointInterval, c.checkpoint)
}

// checkpoint saves the legs' stats and when media was last seen, off the
// actor: one UPDATE per call per interval, never two in flight. Media is
// seen when any leg received packets since the last tick; a held call
// counts as alive (its audio may stop while RTCP still flows).
func (c *Call) checkpoint() {
	if c.state == StateEnded {
		return
	}
	defer c.ck.timer.Reset(checkpointInterval)
	now := time.Now().UTC()
	legs := c.legStats()
	var received uint64
	for _, l := range legs {
		received += l.PacketsReceived
	}
	if received != c.ck.received || (c.state == StateHeld && !c.ck.lastMedia.IsZero()) {
		c.ck.received, c.ck.lastMedia = received, now
	}
	c.rec.checkpointed(legs)
	if c.ck.writing {
		return
	}
	cp := store.CallCheckpoint{At: now, Legs: slices.Clone(legs)} // the write outlives this turn
	if !c.ck.lastMedia.IsZero() {
		at := c.ck.lastMedia
		cp.LastMediaAt = &at
	}
	c.ck.writing = true
	to, id := c.ck.to, c.id
	c.async(func() func() {
		ctx, cancel := context.WithTimeout(context.Background(), checkpointInterval)
		defer cancel()
		err := to.CheckpointCallRecord(ctx, id, cp)
		return func() {
			c.ck.writing = false
			if err != nil {
				c.m.log.Warn("call record checkpoint", "call_id", id, "err", err)
			}
		}
	})
}
