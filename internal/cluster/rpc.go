package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
)

// Subjects. Per-node requests go to sb.node.<node>.<method>, per-call ones
// (later) to sb.call.<call>.<method>; presence changes are published on
// sb.presence.<account>.
const (
	subjectNode     = "sb.node."
	subjectCall     = "sb.call."
	subjectPresence = "sb.presence."
)

// NodeSubject is the subject of method on node.
func NodeSubject(node, method string) string { return subjectNode + keyToken(node) + "." + method }

// CallSubject is the subject of method on the node that owns call.
func CallSubject(call, method string) string { return subjectCall + keyToken(call) + "." + method }

// Error codes a reply carries.
const (
	CodeBadRequest  = "bad_request" // the request could not be read
	CodeNotFound    = "not_found"   // no such thing on that node
	CodeUnavailable = "unavailable" // nobody answers that subject
	CodeTimeout     = "timeout"     // no answer in time
	CodeInternal    = "internal"    // the handler failed
)

// Error is a failure one node reports to another.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return "cluster: " + e.Code + ": " + e.Message }

// Errorf makes an *Error with code, for a handler to return.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// envelope is every reply on the wire: data or error.
type envelope struct {
	Data  json.RawMessage `json:"data,omitempty"`
	Error *Error          `json:"error,omitempty"`
}

// Handler answers one request: req is the request's JSON; the result is
// sent as the reply's data, an error as its error (an *Error keeps its
// code, anything else is internal).
type Handler func(ctx context.Context, req json.RawMessage) (any, error)

// handlerTimeout bounds one handler run.
const handlerTimeout = 5 * time.Second

// Handle answers requests on subject until the node closes. Handlers run
// on the subscription's goroutine, one request at a time.
func (n *Node) Handle(subject string, h Handler) error {
	sub, err := n.nc.Subscribe(subject, func(m *nats.Msg) {
		if m.Reply == "" {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), handlerTimeout)
		defer cancel()
		var env envelope
		res, err := h(ctx, m.Data)
		if err == nil {
			env.Data, err = json.Marshal(res)
		}
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				e = &Error{Code: CodeInternal, Message: err.Error()}
			}
			env = envelope{Error: e}
		}
		b, _ := json.Marshal(env)
		if err := m.Respond(b); err != nil {
			n.log.Debug("cluster: respond", "subject", subject, "err", err)
		}
	})
	if err != nil {
		return fmt.Errorf("cluster: subscribe %s: %w", subject, err)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		_ = sub.Unsubscribe()
		return ErrClosed
	}
	n.subs = append(n.subs, sub)
	// Requests sent once Handle returns must find the subscription.
	return n.nc.FlushTimeout(5 * time.Second)
}

// Request sends req (JSON-encoded) to subject and decodes the reply's
// data into T. Failures are *Error: the handler's, unavailable when
// nobody listens, timeout when ctx ends first.
func Request[T any](ctx context.Context, n *Node, subject string, req any) (T, error) {
	var zero T
	b, err := json.Marshal(req)
	if err != nil {
		return zero, err
	}
	m, err := n.nc.RequestWithContext(ctx, subject, b)
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		return zero, Errorf(CodeUnavailable, "nobody answers %s", subject)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout):
		return zero, Errorf(CodeTimeout, "no answer on %s in time", subject)
	case err != nil:
		return zero, Errorf(CodeUnavailable, "%s: %v", subject, err)
	}
	var env envelope
	if err := json.Unmarshal(m.Data, &env); err != nil {
		return zero, Errorf(CodeBadRequest, "unreadable reply on %s: %v", subject, err)
	}
	if env.Error != nil {
		return zero, env.Error
	}
	var out T
	if len(env.Data) > 0 {
		if err := json.Unmarshal(env.Data, &out); err != nil {
			return zero, Errorf(CodeBadRequest, "unreadable reply data on %s: %v", subject, err)
		}
	}
	return out, nil
}

// MethodStatus is the request every node answers about itself.
const MethodStatus = "status"

// serveRequests installs this node's own handlers.
func (n *Node) serveRequests() error {
	return n.Handle(NodeSubject(n.id, MethodStatus), func(context.Context, json.RawMessage) (any, error) {
		return n.Self(), nil
	})
}

// Status asks node about itself (a ping with its fresh load).
func (n *Node) Status(ctx context.Context, node string) (NodeInfo, error) {
	return Request[NodeInfo](ctx, n, NodeSubject(node, MethodStatus), struct{}{})
}
