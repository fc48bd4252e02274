package softphone

import (
	"reflect"

	"github.com/switchboard-voice/switchboard/internal/protocol"
)

// readLoop is l's only reader. Its context ends only on Close: with
// coder/websocket an expired read closes the connection. When the socket
// goes, the phone is disconnected (finished only by a fatal error frame,
// which onError records, or by Close).
func (p *Phone) readLoop(l *link) {
	defer p.wg.Done()
	defer close(l.readerDone)
	defer l.markLost()
	for {
		_, data, err := l.conn.Read(p.ctx)
		if err != nil {
			p.log.Debug("softphone: socket gone", "err", err)
			return
		}
		msg, err := protocol.DecodeServer(data)
		if err != nil {
			p.log.Warn("softphone: undecodable frame", "err", err)
			continue
		}
		p.log.Debug("softphone: received", "type", msg.MessageType())
		p.dispatch(msg, l)
	}
}

func (p *Phone) dispatch(msg protocol.Message, l *link) {
	reqID, callID := stringField(msg, "ReqID"), stringField(msg, "CallID")
	switch m := msg.(type) {
	case *protocol.Error:
		p.onError(m, l)
	case *protocol.CallTrying:
		p.onTrying(m)
	case *protocol.CallIncoming:
		if c := p.lookup(m.CallID); c != nil {
			c.post(msg)
			return
		}
		c, err := p.newCall(protocol.DirectionInbound, m.CallID, true, func(c *Call) {
			c.From, c.FromName, c.To = m.From, m.FromName, m.To
		})
		if err != nil {
			p.log.Warn("softphone: cannot take inbound call", "call_id", m.CallID, "err", err)
			return
		}
		c.post(msg)
	case *protocol.CallRestored:
		if c := p.lookup(m.CallID); c != nil {
			c.post(msg)
			return
		}
		c, err := p.newCall(m.Direction, m.CallID, false, func(c *Call) {
			c.From, c.FromName, c.To = m.From, m.FromName, m.To
			c.restored = true
		})
		if err != nil {
			return
		}
		c.post(msg)
		select {
		case p.restored <- c:
		default:
			p.log.Warn("softphone: Restored full, dropping call", "call_id", m.CallID)
		}
	default:
		if p.reply(reqID, msg) {
			return
		}
		if c := p.lookup(callID); c != nil {
			c.post(msg)
			return
		}
		if callID != "" {
			p.log.Debug("softphone: frame for unknown call", "type", msg.MessageType(), "call_id", callID)
			return
		}
		select {
		case p.notices <- msg:
		default:
			p.log.Warn("softphone: Notifications full, dropping frame", "type", msg.MessageType())
		}
	}
}

func (p *Phone) onError(m *protocol.Error, l *link) {
	se := serverError(m)
	c := p.lookup(m.CallID)
	switch {
	case p.reply(m.ReqID, m):
	case c != nil:
		c.post(m)
	default:
		select {
		case p.errs <- se:
		default:
			p.log.Warn("softphone: Errors full, dropping error", "code", m.Code)
		}
	}
	if se.Fatal {
		p.log.Debug("softphone: fatal error", "code", m.Code, "message", m.Message)
		p.finish(se)
		l.markLost()
		_ = l.conn.CloseNow()
	}
}

// onTrying binds a call.create's Call to its call id before any later frame
// of that call is dispatched. The reply is queued under the lock so that
// abandon sees either the pending request or its reply.
func (p *Phone) onTrying(m *protocol.CallTrying) {
	p.mu.Lock()
	pend := p.pending[m.ReqID]
	if pend != nil {
		delete(p.pending, m.ReqID)
		if !pend.abandoned {
			if pend.call != nil && m.CallID != "" {
				pend.call.ID = m.CallID
				p.calls[m.CallID] = pend.call
			}
			pend.ch <- m
		}
	}
	p.mu.Unlock()
	switch {
	case pend == nil:
		if c := p.lookup(m.CallID); c != nil {
			c.post(m)
		}
	case pend.abandoned:
		p.log.Debug("softphone: hanging up abandoned call", "call_id", m.CallID)
		_ = p.Send(protocol.CallHangup{CallID: m.CallID})
	case pend.call != nil:
		pend.call.post(m)
	}
}

// stringField reads a string field of a message struct (or pointer to one).
func stringField(m protocol.Message, name string) string {
	v := reflect.ValueOf(m)
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return ""
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return ""
	}
	f := v.FieldByName(name)
	if !f.IsValid() || f.Kind() != reflect.String {
		return ""
	}
	return f.String()
}

// withReqID returns a copy of msg whose ReqID is set (to newID() when empty).
func withReqID(msg protocol.Message, newID func() string) (protocol.Message, string, error) {
	v := reflect.ValueOf(msg)
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return nil, "", ErrNoReqID
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return nil, "", ErrNoReqID
	}
	cp := reflect.New(v.Type())
	cp.Elem().Set(v)
	f := cp.Elem().FieldByName("ReqID")
	if !f.IsValid() || f.Kind() != reflect.String || !f.CanSet() {
		return nil, "", ErrNoReqID
	}
	if f.String() == "" {
		f.SetString(newID())
	}
	out, ok := cp.Interface().(protocol.Message)
	if !ok {
		return nil, "", ErrNoReqID
	}
	return out, f.String(), nil
}
