package signal

import "github.com/switchboard-voice/switchboard/internal/protocol"

// sendQuality sends a call.quality frame to the current socket when its
// client asked for them (authenticate features: ["quality"]). Clients that
// did not never see one; a socket that is down misses it (the next window
// brings fresh figures), so it is neither kept nor replayed.
func (s *Session) sendQuality(msg protocol.Message) {
	s.mu.Lock()
	c := s.conn
	if s.ended {
		c = nil
	}
	s.mu.Unlock()
	if c == nil || !c.quality {
		return
	}
	frame, err := protocol.Encode(msg)
	if err != nil {
		s.hub.log.Error("encode frame", "type", msg.MessageType(), "err", err)
		return
	}
	c.enqueue(frame)
}
