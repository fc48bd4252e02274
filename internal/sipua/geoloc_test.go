package sipua

import (
	"io"
	"mime"
	"mime/multipart"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/call"
	"github.com/switchboard-voice/switchboard/internal/emergency"
)

func TestWithLocation(t *testing.T) {
	const offer = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"
	loc := &emergency.Location{Device: "sess_x", BoundAt: time.Unix(0, 0),
		Civic: emergency.Civic{AddressNumber: "1", Street: "Main & Elm", City: "Springfield", State: "IL", PostalCode: "62701", Country: "US"}}
	ctype, body, err := withLocation(offer, loc, "sip:+14155550100@127.0.0.1", "abc@127.0.0.1")
	require.NoError(t, err)
	mt, params, err := mime.ParseMediaType(ctype)
	require.NoError(t, err)
	require.Equal(t, "multipart/mixed", mt)
	r := multipart.NewReader(strings.NewReader(string(body)), params["boundary"])

	sdp, err := r.NextPart()
	require.NoError(t, err)
	require.Equal(t, "application/sdp", sdp.Header.Get("Content-Type"))
	got, err := io.ReadAll(sdp)
	require.NoError(t, err)
	require.Equal(t, offer, string(got), "the SDP part is the offer, byte for byte")

	pidf, err := r.NextPart()
	require.NoError(t, err)
	require.Equal(t, "application/pidf+xml", pidf.Header.Get("Content-Type"))
	require.Equal(t, "<abc@127.0.0.1>", pidf.Header.Get("Content-ID"))
	doc, err := io.ReadAll(pidf)
	require.NoError(t, err)
	require.Contains(t, string(doc), "<ca:RD>Main &amp; Elm</ca:RD>")
	require.Contains(t, string(doc), `entity="sip:+14155550100@127.0.0.1"`)

	_, err = r.NextPart()
	require.ErrorIs(t, err, io.EOF)
}

func TestEmergencyLocationOnlyForEmergencyCalls(t *testing.T) {
	loc := &emergency.Location{}
	require.Same(t, loc, emergencyLocation(call.TrunkRequest{Emergency: true, Location: loc}))
	require.Nil(t, emergencyLocation(call.TrunkRequest{Location: loc}))
}
