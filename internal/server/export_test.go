package server

import (
	"log/slog"

	"github.com/switchboard-voice/switchboard/internal/cluster"
)

// Outbox is the relay's per-node queue, for tests.
type Outbox struct{ o *outbox }

func NewOutbox(n *cluster.Node) Outbox { return Outbox{newOutbox(n, slog.New(slog.DiscardHandler))} }

func (o Outbox) Send(to, subject string, body any, failed func(error)) {
	o.o.send(to, subject, body, failed)
}
func (o Outbox) Close() { o.o.close() }
