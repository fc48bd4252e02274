package recording

import "testing"

// FuzzDecode: no input makes Decode panic, and what it decodes is
// consistent (every channel as long as the first).
func FuzzDecode(f *testing.F) {
	f.Add(header(8000, 2, 0))
	f.Add(append(header(8000, 2, 8), 1, 2, 3, 4, 5, 6, 7, 8))
	f.Add(append(header(16000, 1, 2), 1, 2, 'L', 'I', 'S', 'T', 0, 0, 0, 0))
	f.Add([]byte("RIFF\x00\x00\x00\x00WAVEdata\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := Decode(b)
		if err != nil {
			return
		}
		for _, ch := range a.Channels {
			if len(ch) != a.Frames() {
				t.Fatalf("channel lengths differ: %d vs %d", len(ch), a.Frames())
			}
		}
		if a.Frames()*2*len(a.Channels) > len(b) {
			t.Fatalf("%d frames from %d bytes", a.Frames(), len(b))
		}
	})
}
