package recording

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"strconv"
	"time"

	"github.com/switchboard-voice/switchboard/internal/ident"
)

// Signer makes and checks download URLs: the path names the recording,
// the query its expiry (unix seconds) and an HMAC-SHA256 of both under
// the server's recording URL key, so the URL works without credentials
// until it expires and cannot be altered.
type Signer struct{ Key []byte }

// FilePath is the path of a recording's file download.
func FilePath(id ident.RecordingID) string { return "/v1/recordings/" + string(id) + "/file" }

// URL returns the signed path and query for id, valid until exp.
func (s Signer) URL(id ident.RecordingID, exp time.Time) string {
	e := strconv.FormatInt(exp.Unix(), 10)
	return FilePath(id) + "?" + url.Values{"expires": {e}, "signature": {s.sign(id, e)}}.Encode()
}

// Valid reports whether signature signs id and expires, and expires is
// after now. The comparison takes the same time wherever they differ.
func (s Signer) Valid(id ident.RecordingID, expires, signature string, now time.Time) bool {
	exp, err := strconv.ParseInt(expires, 10, 64)
	if err != nil || len(expires) > 12 {
		return false
	}
	want := s.sign(id, expires)
	ok := hmac.Equal([]byte(want), []byte(signature))
	return ok && now.Unix() < exp
}

func (s Signer) sign(id ident.RecordingID, expires string) string {
	m := hmac.New(sha256.New, s.Key)
	m.Write([]byte("recording-download\n" + string(id) + "\n" + expires))
	return hex.EncodeToString(m.Sum(nil))
}
