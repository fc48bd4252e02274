package rest

import (
	"bufio"
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// SSEEvent is one Server-Sent Event (comments have Comment set instead).
type SSEEvent struct {
	ID, Event, Data string
	Comment         string
}

// SSE is an open Server-Sent Events stream read by one goroutine into a
// channel; Close ends it.
type SSE struct {
	Status int
	Events chan SSEEvent // closed when the stream ends
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

// OpenSSE opens url with the bearer and, unless empty, Last-Event-ID. A
// reply other than 200 is returned with Status set and Events closed.
func OpenSSE(t testing.TB, url, bearer, lastEventID string) *SSE {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+bearer)
	req.Header.Set("Accept", "text/event-stream")
	if lastEventID != "" {
		req.Header.Set("Last-Event-ID", lastEventID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		require.NoError(t, err)
	}
	s := &SSE{Status: resp.StatusCode, Events: make(chan SSEEvent, 1024), cancel: cancel, done: make(chan struct{})}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		close(s.Events)
		close(s.done)
		return s
	}
	go func() {
		defer close(s.done)
		defer close(s.Events)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		var ev SSEEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev != (SSEEvent{}) {
					s.Events <- ev
				}
				ev = SSEEvent{}
			case strings.HasPrefix(line, ":"):
				ev.Comment = strings.TrimSpace(line[1:])
			default:
				k, v, _ := strings.Cut(line, ":")
				v = strings.TrimPrefix(v, " ")
				switch k {
				case "id":
					ev.ID = v
				case "event":
					ev.Event = v
				case "data":
					if ev.Data != "" {
						ev.Data += "\n"
					}
					ev.Data += v
				}
			}
		}
	}()
	return s
}

// Next returns the next event that is not a comment (failing after
// timeout).
func (s *SSE) Next(t testing.TB, timeout time.Duration) SSEEvent {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case ev, ok := <-s.Events:
			require.True(t, ok, "the stream ended")
			if ev.Comment != "" && ev.Event == "" && ev.Data == "" {
				continue
			}
			return ev
		case <-deadline:
			require.FailNow(t, "no event within "+timeout.String())
		}
	}
}

// Close ends the stream and waits for its reader.
func (s *SSE) Close() {
	s.once.Do(s.cancel)
	<-s.done
}
