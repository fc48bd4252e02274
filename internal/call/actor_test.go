package call

import (
	"context"
	"testing"
)

// An event that carries something (a joined leg's media) is released,
// never lost, when its call is over: posted after the end, posted to a
// full queue while the call ends, or queued and never run.
func TestPostReleasesWhatADroppedEventCarries(t *testing.T) {
	newActor := func(queue int) *Call {
		ctx, cancel := context.WithCancelCause(context.Background())
		return &Call{events: make(chan event, queue), ctx: ctx, cancel: cancel}
	}
	for _, tc := range []struct {
		name string
		run  func(c *Call, ev event)
	}{
		{"posted after the end", func(c *Call, ev event) {
			c.closeQueue()
			c.post(ev)
		}},
		{"blocked on a full queue when the call ends", func(c *Call, ev event) {
			c.events <- event{} // the queue is full
			posted := make(chan struct{})
			go func() { c.post(ev); close(posted) }()
			c.closeQueue()
			<-posted
		}},
		{"queued, never run", func(c *Call, ev event) {
			c.post(ev)
			c.closeQueue()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newActor(1)
			released, ran := 0, 0
			tc.run(c, event{fn: func() { ran++ }, dropped: func() { released++ }})
			if ran != 0 || released != 1 {
				t.Fatalf("ran %d, released %d: want 0, 1", ran, released)
			}
			select {
			case ev := <-c.events:
				t.Fatalf("an event is left in the closed queue: %+v", ev)
			default:
			}
		})
	}
}
