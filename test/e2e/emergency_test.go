package e2e

import (
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/config"
	"github.com/switchboard-voice/switchboard/internal/protocol"
	"github.com/switchboard-voice/switchboard/internal/store"
	"github.com/switchboard-voice/switchboard/softphone"
	"github.com/switchboard-voice/switchboard/test/harness"
)

const addresses = "/v1/me/emergency-addresses"

// home is a valid US address, as DialStack's SDK sends it (EmergencyAddressInput).
func home() map[string]any {
	return map[string]any{"address_number": "123", "street": "Main St", "unit": "Apt 4",
		"city": "Springfield", "state": "il", "postal_code": "62701"}
}

// newAddress registers body for the token's user and returns its id.
func newAddress(t *testing.T, s *harness.Server, tok string, body map[string]any) string {
	t.Helper()
	r := s.Do(t, "POST", addresses, tok, body)
	require.Equal(t, http.StatusCreated, r.Status, string(r.Raw))
	return r.Body["id"].(string)
}

// phoneFrom connects a softphone for u whose socket leaves from localIP
// (any 127.x.y.z: "another network" on loopback) and presents the
// emergency address id.
func phoneFrom(t *testing.T, s *harness.Server, u store.User, localIP, addressID string) *softphone.Phone {
	t.Helper()
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(localIP)}}
	tr := &http.Transport{DialContext: dialer.DialContext}
	t.Cleanup(tr.CloseIdleConnections)
	p, err := softphone.Connect(harness.Ctx(t, 10*time.Second), softphone.Config{URL: s.WebSocketURL(),
		Token: s.Token(t, u, time.Hour), EmergencyAddressID: addressID, HTTPClient: &http.Client{Transport: tr}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// sawNetworkChanged reports whether the server sent network.changed after
// authenticated: it would come before the pong answering a later ping.
func sawNetworkChanged(t *testing.T, p *softphone.Phone) bool {
	t.Helper()
	_, err := p.Request(harness.Ctx(t, 5*time.Second), &protocol.Ping{})
	require.NoError(t, err)
	for {
		select {
		case m := <-p.Notifications():
			if m.MessageType() == protocol.TypeNetworkChanged {
				return true
			}
		default:
			return false
		}
	}
}

func registeredIP(t *testing.T, s *harness.Server, tok, id string) any {
	t.Helper()
	r := s.Do(t, "GET", addresses+"/"+id, tok, nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	return r.Body["registered_ip"]
}

// TestEmergencyAddressREST: create, read, list (DialStack's ListResponse,
// newest first, paged), unbind and delete, with 422s naming the fields at
// fault, and nothing of another user's.
func TestEmergencyAddressREST(t *testing.T) {
	s := harness.Start(t, nil)
	alice, bob := s.Token(t, s.Alice, time.Hour), s.Token(t, s.Bob, time.Hour)

	r := s.Do(t, "POST", addresses, alice, home())
	require.Equal(t, http.StatusCreated, r.Status, string(r.Raw))
	id := r.Body["id"].(string)
	require.True(t, strings.HasPrefix(id, "emerg_"), id)
	require.Nil(t, r.Body["registered_ip"])
	require.NotEmpty(t, r.Body["created_at"])
	require.Equal(t, map[string]any{"address_number": "123", "street": "Main St", "unit": "Apt 4", "city": "Springfield",
		"state": "IL", "postal_code": "62701", "country": "US",
		"formatted_address": "123 Main St, Apt 4, Springfield, IL 62701, US"}, r.Body["address"])

	for _, tt := range []struct {
		name   string
		change map[string]any
		fields []any
	}{
		{"missing fields", map[string]any{"street": "", "city": " ", "postal_code": ""}, []any{"street", "city", "postal_code"}},
		{"US formats", map[string]any{"state": "Illinois", "postal_code": "6270"}, []any{"state", "postal_code"}},
		{"country", map[string]any{"country": "USA"}, []any{"country"}},
		{"too long", map[string]any{"unit": strings.Repeat("9", 33)}, []any{"unit"}},
		{"control characters", map[string]any{"street": "Main\u0000St"}, []any{"street"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			body := home()
			for k, v := range tt.change {
				body[k] = v
			}
			r := s.Do(t, "POST", addresses, alice, body)
			require.Equal(t, http.StatusUnprocessableEntity, r.Status, string(r.Raw))
			require.Equal(t, "invalid_emergency_address", r.Body["code"])
			details := r.Body["details"].(map[string]any)
			require.Equal(t, tt.fields[0], details["field"])
			var got []any
			for _, e := range details["errors"].([]any) {
				got = append(got, e.(map[string]any)["field"])
			}
			require.Equal(t, tt.fields, got)
		})
	}
	require.Equal(t, http.StatusBadRequest, s.Do(t, "POST", addresses, alice, `{"street":1}`).Status)
	require.Equal(t, http.StatusUnauthorized, s.Do(t, "GET", addresses, "", nil).Status)
	r = s.Do(t, "GET", addresses, admin, nil)
	require.Equal(t, http.StatusForbidden, r.Status, "user tokens only")
	require.Equal(t, "user_token_required", r.Body["code"])

	// Newest first, paged by next_page_url / previous_page_url.
	second, third := newAddress(t, s, alice, home()), newAddress(t, s, alice, home())
	page := s.Do(t, "GET", addresses+"?limit=2", alice, nil)
	require.Equal(t, http.StatusOK, page.Status, string(page.Raw))
	require.Equal(t, "list", page.Body["object"])
	require.Equal(t, addresses, page.Body["url"])
	require.Nil(t, page.Body["previous_page_url"])
	data := page.Body["data"].([]any)
	require.Len(t, data, 2)
	require.Equal(t, third, data[0].(map[string]any)["id"])
	require.Equal(t, second, data[1].(map[string]any)["id"])
	next := page.Body["next_page_url"].(string)
	page = s.Do(t, "GET", next, alice, nil)
	require.Equal(t, []any{id}, ids(page.Body["data"]))
	require.Nil(t, page.Body["next_page_url"])
	page = s.Do(t, "GET", page.Body["previous_page_url"].(string), alice, nil)
	require.Equal(t, []any{third, second}, ids(page.Body["data"]))

	// Bob sees none of it.
	require.Empty(t, s.Do(t, "GET", addresses, bob, nil).Body["data"])
	for _, m := range []struct{ method, path string }{{"GET", "/" + id}, {"DELETE", "/" + id}, {"DELETE", "/" + id + "/registered_ip"}} {
		r := s.Do(t, m.method, addresses+m.path, bob, nil)
		require.Equal(t, http.StatusNotFound, r.Status, "%s %s: %s", m.method, m.path, r.Raw)
		require.Equal(t, "not_found", r.Body["code"])
	}

	require.Equal(t, http.StatusNoContent, s.Do(t, "DELETE", addresses+"/"+id+"/registered_ip", alice, nil).Status)
	require.Equal(t, http.StatusNoContent, s.Do(t, "DELETE", addresses+"/"+id, alice, nil).Status)
	require.Equal(t, http.StatusNotFound, s.Do(t, "GET", addresses+"/"+id, alice, nil).Status)

	// A cap per user.
	for range 18 {
		newAddress(t, s, alice, home())
	}
	r = s.Do(t, "POST", addresses, alice, home())
	require.Equal(t, http.StatusConflict, r.Status, string(r.Raw))
	require.Equal(t, "emergency_address_limit", r.Body["code"])
}

func ids(data any) []any {
	var out []any
	for _, e := range data.([]any) {
		out = append(out, e.(map[string]any)["id"])
	}
	return out
}

// TestEmergencyAddressBinding: authenticate.emergency_address_id binds an
// address to the socket's source address; the same address presented from
// another one gets network.changed, as does another user's id; once
// unbound it binds to the new network.
func TestEmergencyAddressBinding(t *testing.T) {
	s := harness.Start(t, nil)
	alice, bob := s.Token(t, s.Alice, time.Hour), s.Token(t, s.Bob, time.Hour)
	id := newAddress(t, s, alice, home())

	p := phoneFrom(t, s, s.Alice, "127.0.0.1", id)
	require.False(t, sawNetworkChanged(t, p))
	require.Equal(t, "127.0.0.1", registeredIP(t, s, alice, id))
	// Same network again: bound, silently.
	require.False(t, sawNetworkChanged(t, phoneFrom(t, s, s.Alice, "127.0.0.1", id)))

	moved := phoneFrom(t, s, s.Alice, "127.0.0.2", id)
	require.True(t, sawNetworkChanged(t, moved))
	require.Equal(t, "127.0.0.1", registeredIP(t, s, alice, id), "a moved device does not take the binding")

	// Another user's address, or none that exists: network.changed, and
	// the session stays up.
	foreign := phoneFrom(t, s, s.Bob, "127.0.0.1", id)
	require.True(t, sawNetworkChanged(t, foreign))
	require.True(t, sawNetworkChanged(t, phoneFrom(t, s, s.Bob, "127.0.0.1", "emerg_nosuchaddress")))
	require.True(t, foreign.Connected())
	require.Empty(t, s.Do(t, "GET", addresses, bob, nil).Body["data"])

	// Unbound (the SDK's "re-bind" after a move), it binds where the device is now.
	require.Equal(t, http.StatusNoContent, s.Do(t, "DELETE", addresses+"/"+id+"/registered_ip", alice, nil).Status)
	require.False(t, sawNetworkChanged(t, phoneFrom(t, s, s.Alice, "127.0.0.2", id)))
	require.Equal(t, "127.0.0.2", registeredIP(t, s, alice, id))
	// No id presented: nothing sent.
	require.False(t, sawNetworkChanged(t, phoneFrom(t, s, s.Alice, "127.0.0.3", "")))
}

// sentInviteWithBody returns the first INVITE sipp received, headers and
// body (sipp logs each message between separator lines).
func sentInviteWithBody(t *testing.T, sipp *harness.Sipp) (head, body string) {
	t.Helper()
	msgs := sipp.Messages()
	i := strings.Index(msgs, "INVITE sip:")
	require.GreaterOrEqual(t, i, 0, "sipp saw no INVITE:\n%s", msgs)
	msg := msgs[i:]
	if end := strings.Index(msg, "\n------------"); end >= 0 {
		msg = msg[:end]
	}
	msg = strings.ReplaceAll(msg, "\r\n", "\n")
	head, body, ok := strings.Cut(msg, "\n\n")
	require.True(t, ok, "no body in\n%s", msg)
	return head, body
}

func header(head, name string) string {
	for _, l := range strings.Split(head, "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.EqualFold(strings.TrimSpace(k), name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// TestEmergencyCallCarriesLocation: 911 from a softphone that bound its
// address reaches the emergency trunk (over TCP) as multipart/mixed with
// the SDP and a PIDF-LO, which Geolocation points at (RFC 6442).
func TestEmergencyCallCarriesLocation(t *testing.T) {
	psap := harness.StartSipp(t, harness.SippOptions{Scenario: "uas_answer.xml", TCP: true, RTPEcho: true})
	s := startWithTrunks(t, config.Trunk{Name: "psap", Host: psap.IP, Port: psap.Port, Transport: "tcp"})
	setDialPlan(t, s, func(p *store.DialPlan) { p.EmergencyTrunk = "psap" })
	id := newAddress(t, s, s.Token(t, s.Alice, time.Hour), home())
	alice := phoneFrom(t, s, s.Alice, "127.0.0.1", id)
	require.False(t, sawNetworkChanged(t, alice))

	out := dial(t, alice, "911")
	harness.Wait(t, out, protocol.TypeCallAnswered)
	hangUp(t, out)
	psap.RequireSuccess(t)

	head, body := sentInviteWithBody(t, psap)
	require.Contains(t, head, "INVITE sip:911@"+psap.Addr)
	require.Equal(t, "yes", header(head, "Geolocation-Routing"))
	geo := header(head, "Geolocation")
	require.True(t, strings.HasPrefix(geo, "<cid:") && strings.HasSuffix(geo, ">"), geo)
	mt, params, err := mime.ParseMediaType(header(head, "Content-Type"))
	require.NoError(t, err)
	require.Equal(t, "multipart/mixed", mt)

	parts := map[string]*multipart.Part{}
	texts := map[string]string{}
	r := multipart.NewReader(strings.NewReader(strings.ReplaceAll(body, "\n", "\r\n")), params["boundary"])
	for {
		p, err := r.NextPart()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		b, err := io.ReadAll(p)
		require.NoError(t, err)
		ct := p.Header.Get("Content-Type")
		parts[ct], texts[ct] = p, string(b)
	}
	require.Len(t, parts, 2)
	require.Contains(t, texts["application/sdp"], "m=audio ")
	pidf := parts["application/pidf+xml"]
	require.NotNil(t, pidf)
	require.Equal(t, "<"+strings.TrimSuffix(strings.TrimPrefix(geo, "<cid:"), ">")+">", pidf.Header.Get("Content-ID"))
	doc := texts["application/pidf+xml"]
	for _, want := range []string{`<presence xmlns="urn:ietf:params:xml:ns:pidf"`, "<ca:country>US</ca:country>",
		"<ca:A1>IL</ca:A1>", "<ca:A3>Springfield</ca:A3>", "<ca:RD>Main St</ca:RD>", "<ca:HNO>123</ca:HNO>",
		"<ca:PC>62701</ca:PC>", "<ca:UNIT>Apt 4</ca:UNIT>", "<gp:method>Manual</gp:method>"} {
		require.Contains(t, doc, want)
	}
}

// TestEmergencyCallOverUDPWithoutLocation: an INVITE with its PIDF-LO is
// about 2 KB, too large for UDP (RFC 3261 §18.1.1): over a UDP trunk the
// emergency call goes out with the SDP alone.
func TestEmergencyCallOverUDPWithoutLocation(t *testing.T) {
	psap := harness.StartSipp(t, harness.SippOptions{Scenario: "uas_answer.xml", RTPEcho: true})
	s := startWithTrunks(t, trunkTo("psap", psap, 0))
	id := newAddress(t, s, s.Token(t, s.Alice, time.Hour), home())
	alice := phoneFrom(t, s, s.Alice, "127.0.0.1", id)
	out := dial(t, alice, "911")
	harness.Wait(t, out, protocol.TypeCallAnswered)
	hangUp(t, out)
	psap.RequireSuccess(t)
	head, _ := sentInviteWithBody(t, psap)
	require.Equal(t, "application/sdp", header(head, "Content-Type"))
	require.Empty(t, header(head, "Geolocation"))
}

// TestEmergencyAddressRequired: with the account's policy on, a call to a
// number through a trunk from a session with no address bound to its
// network fails with emergency_address_required (echoing the req_id);
// 911 always goes out; a bound session calls out.
func TestEmergencyAddressRequired(t *testing.T) {
	carrier := harness.StartSipp(t, harness.SippOptions{Scenario: "uas_answer.xml", RTPEcho: true})
	psap := harness.StartSipp(t, harness.SippOptions{Scenario: "uas_answer.xml", RTPEcho: true})
	s := startWithTrunks(t, trunkTo("carrier", carrier, 0), trunkTo("psap", psap, 5))
	r := s.Do(t, "PUT", "/v1/dial_plan", admin, map[string]any{"emergency_trunk": "psap", "emergency_address_required": true})
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	require.Equal(t, true, r.Body["emergency_address_required"])
	bobTok := s.Token(t, s.Bob, time.Hour)

	refused := func(p *softphone.Phone) {
		t.Helper()
		out := dial(t, p, external)
		e := harness.Wait(t, out, protocol.TypeError).(*protocol.Error)
		require.Equal(t, protocol.CodeEmergencyAddressRequired, e.Code, e.Message)
		require.NotEmpty(t, e.ReqID, "the error answers the call.create")
		require.Equal(t, out.ID, e.CallID)
		require.False(t, e.Fatal)
		harness.WaitEnded(t, out, protocol.EndFailed)
	}
	bob := s.Phone(t, s.Bob, 440, "") // presents no address
	refused(bob)

	sos := dial(t, bob, "911")
	harness.Wait(t, sos, protocol.TypeCallAnswered)
	hangUp(t, sos)
	psap.RequireSuccess(t)

	id := newAddress(t, s, bobTok, home())
	require.False(t, sawNetworkChanged(t, phoneFrom(t, s, s.Bob, "127.0.0.1", id)))
	moved := phoneFrom(t, s, s.Bob, "127.0.0.2", id)
	require.True(t, sawNetworkChanged(t, moved))
	refused(moved)
	require.NotContains(t, carrier.Messages(), "INVITE")
	require.True(t, bob.Connected() && moved.Connected(), "the refusal is not fatal")

	bound := phoneFrom(t, s, s.Bob, "127.0.0.1", id)
	out := dial(t, bound, external)
	harness.Wait(t, out, protocol.TypeCallAnswered)
	hangUp(t, out)
	carrier.RequireSuccess(t)
	noCallsLeft(t, s)
}

// TestEmergencyCallAfterAddressDeleted: an address the user deletes while
// the socket is up is never sent: the 911 call goes out without one.
func TestEmergencyCallAfterAddressDeleted(t *testing.T) {
	psap := harness.StartSipp(t, harness.SippOptions{Scenario: "uas_answer.xml", TCP: true, RTPEcho: true})
	s := startWithTrunks(t, config.Trunk{Name: "psap", Host: psap.IP, Port: psap.Port, Transport: "tcp"})
	setDialPlan(t, s, func(p *store.DialPlan) { p.EmergencyTrunk = "psap" })
	tok := s.Token(t, s.Alice, time.Hour)
	id := newAddress(t, s, tok, home())
	alice := phoneFrom(t, s, s.Alice, "127.0.0.1", id)
	require.False(t, sawNetworkChanged(t, alice))
	r := s.Do(t, "DELETE", "/v1/me/emergency-addresses/"+id, tok, nil)
	require.Equal(t, 204, r.Status, string(r.Raw))

	out := dial(t, alice, "911")
	harness.Wait(t, out, protocol.TypeCallAnswered)
	hangUp(t, out)
	psap.RequireSuccess(t)
	head, _ := sentInviteWithBody(t, psap)
	require.Equal(t, "application/sdp", header(head, "Content-Type"))
	require.Empty(t, header(head, "Geolocation"))
}
