package signal

import "github.com/switchboard-voice/switchboard/internal/protocol"

// HasFeature reports whether the session's current socket asked for the
// optional frames f (authenticate.features): protocol.FeatureQuality or
// protocol.FeatureRecording. A session with no socket has none.
func (s *Session) HasFeature(f string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		return false
	}
	switch f {
	case protocol.FeatureQuality:
		return s.conn.quality
	case protocol.FeatureRecording:
		return s.conn.recording
	}
	return false
}
