package sipua

import (
	"encoding/xml"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/presence"
)

func TestDialogInfoBody(t *testing.T) {
	st := presence.State{Dialogs: []presence.Dialog{
		{ID: "call_a", State: presence.DialogEarly, Remote: "+15551234"},
		{ID: "call_b", State: presence.DialogConfirmed, Initiator: true, Remote: "bad<remote>"},
		{ID: "", State: presence.DialogConfirmed},       // no id: left out
		{ID: "call_c", State: "ringing-ish"},            // not RFC 4235: left out
		{ID: `a"<&>`, State: presence.DialogTerminated}, // escaped
	}}
	body := string(dialogInfoBody(st, 7, "sip:102@127.0.0.1", "127.0.0.1"))
	require.True(t, strings.HasPrefix(body, `<?xml version="1.0" encoding="UTF-8"?>`))
	require.Contains(t, body, `<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="7" state="full" entity="sip:102@127.0.0.1">`)
	require.Contains(t, body, `<dialog id="call_a" direction="recipient"><state>early</state><local><identity>sip:102@127.0.0.1</identity></local><remote><identity>sip:+15551234@127.0.0.1</identity></remote></dialog>`)
	require.Contains(t, body, `<dialog id="call_b" direction="initiator"><state>confirmed</state><local><identity>sip:102@127.0.0.1</identity></local></dialog>`)
	require.Contains(t, body, `id="a&#34;&lt;&amp;&gt;"`)
	require.NotContains(t, body, "call_c")

	var doc dialogInfo
	require.NoError(t, xml.Unmarshal([]byte(body), &doc))
	require.Len(t, doc.Dialogs, 3)
}

func TestParseEvent(t *testing.T) {
	for _, tc := range []struct {
		in      []string
		pkg, id string
		err     bool
	}{
		{in: []string{"dialog"}, pkg: "dialog"},
		{in: []string{" dialog ; id=7 "}, pkg: "dialog", id: "7"},
		{in: []string{`dialog;ID="k 1"`}, pkg: "dialog", id: "k 1"},
		{in: []string{"dialog;call-id=abc;from-tag=x;include-session-description"}, pkg: "dialog"},
		{in: []string{"presence"}, pkg: "presence"},
		{in: nil, err: true},
		{in: []string{"dialog", "dialog"}, err: true},
		{in: []string{""}, err: true},
		{in: []string{"dia log"}, err: true},
		{in: []string{"dialog;id="}, err: true},
		{in: []string{"dialog;=x"}, err: true},
		{in: []string{`dialog;id="a\"b"`}, err: true},
		{in: []string{"dialog;id=a b"}, err: true},
		{in: []string{"dialog;id=\"\x01\""}, err: true},
		{in: []string{strings.Repeat("d", 300)}, err: true},
	} {
		pkg, id, err := parseEvent(tc.in)
		if tc.err {
			require.Error(t, err, "%q", tc.in)
			continue
		}
		require.NoError(t, err, "%q", tc.in)
		require.Equal(t, tc.pkg, pkg)
		require.Equal(t, tc.id, id)
	}
}

func TestAcceptsDialogInfo(t *testing.T) {
	for _, tc := range []struct {
		in []string
		ok bool
	}{
		{nil, true},
		{[]string{"application/dialog-info+xml"}, true},
		{[]string{"multipart/related, application/rlmi+xml, Application/Dialog-Info+XML;q=0.5"}, true},
		{[]string{"application/pidf+xml", "*/*"}, true},
		{[]string{"application/*"}, true},
		{[]string{""}, false},
		{[]string{"application/pidf+xml"}, false},
	} {
		require.Equal(t, tc.ok, acceptsDialogInfo(tc.in), "%q", tc.in)
	}
}

func TestParseExpires(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want int
		err  bool
	}{
		{nil, 3600, false},
		{[]string{"0"}, 0, false},
		{[]string{" 600 "}, 600, false},
		{[]string{"9999999999"}, 86400, false},
		{[]string{"99999999999"}, 0, true},
		{[]string{"-1"}, 0, true},
		{[]string{"1e3"}, 0, true},
		{[]string{""}, 0, true},
		{[]string{"60", "60"}, 0, true},
	} {
		got, err := parseExpires(tc.in, 3600)
		if tc.err {
			require.Error(t, err, "%q", tc.in)
			continue
		}
		require.NoError(t, err)
		require.Equal(t, tc.want, got)
	}
}

// FuzzSubscribeHeaders checks the subscription header parsers and the
// dialog-info writer on any input: no panic, only token event types and
// quotable ids, bounded Expires, and well-formed XML that reads back with
// its dialogs.
func FuzzSubscribeHeaders(f *testing.F) {
	f.Add("dialog;id=1", "application/dialog-info+xml", "3600", "call_1", "103")
	f.Add(`dialog;id="a b";call-id=x`, "*/*, text/plain;q=0", "0", "a\"<&>\x00", "+1555")
	f.Add("presence", "", "-1", "", "bad<")
	f.Fuzz(func(t *testing.T, event, accept, expires, dialogID, remote string) {
		if pkg, id, err := parseEvent([]string{event}); err == nil {
			if !isToken(pkg) || !quotable(id) {
				t.Fatalf("parseEvent(%q) = %q, %q", event, pkg, id)
			}
		}
		acceptsDialogInfo([]string{accept})
		if n, err := parseExpires([]string{expires}, 3600); err == nil && (n < 0 || n > 86400) {
			t.Fatalf("parseExpires(%q) = %d", expires, n)
		}
		st := presence.State{Dialogs: []presence.Dialog{
			{ID: dialogID, State: presence.DialogEarly, Remote: remote},
			{ID: "x", State: presence.DialogConfirmed, Remote: remote, Initiator: true},
		}}
		body := dialogInfoBody(st, 3, "sip:"+remote+"@127.0.0.1", "127.0.0.1")
		var doc dialogInfo
		if err := xml.Unmarshal(body, &doc); err != nil {
			t.Fatalf("body does not parse: %v\n%s", err, body)
		}
		want := 1
		if dialogID != "" {
			want = 2
		}
		if len(doc.Dialogs) != want || doc.Version != 3 || doc.State != "full" {
			t.Fatalf("read back %+v from\n%s", doc, body)
		}
	})
}
