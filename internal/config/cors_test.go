package config

import "testing"

func TestNormalizeOrigin(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"*", "*"},
		{"https://App.Example.com", "https://app.example.com"},
		{"https://app.example.com/", "https://app.example.com"},
		{"https://app.example.com:443", "https://app.example.com"},
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080"},
		{"http://[::1]:80", "http://[::1]"},
		{"app.example.com", ""},
		{"ftp://app.example.com", ""},
		{"https://app.example.com/path", ""},
		{"https://user@app.example.com", ""},
		{"https://", ""},
		{"https://a.example?x=1", ""},
	} {
		got, err := NormalizeOrigin(tc.in)
		if (err != nil) != (tc.want == "") || got != tc.want {
			t.Errorf("NormalizeOrigin(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}
