package sipua

import (
	"encoding/xml"
	"errors"
	"strconv"
	"strings"

	"github.com/switchboard-voice/switchboard/internal/presence"
)

// The dialog event package (RFC 4235) on RFC 6665 subscriptions: what a
// BLF key subscribes to. This file holds the body we send and the
// subscription headers we read; subscribe.go the subscriptions.

// dialogInfoType is the body type of the dialog package (RFC 4235 §4).
const dialogInfoType = "application/dialog-info+xml"

// eventDialog is the one event package we serve.
const eventDialog = "dialog"

// dialogInfo is a dialog-info document (RFC 4235 §4.1). We always send
// full state: a dialog that is gone is absent.
type dialogInfo struct {
	XMLName xml.Name     `xml:"urn:ietf:params:xml:ns:dialog-info dialog-info"`
	Version int          `xml:"version,attr"`
	State   string       `xml:"state,attr"`
	Entity  string       `xml:"entity,attr"`
	Dialogs []dialogElem `xml:"dialog"`
}

type dialogElem struct {
	ID        string       `xml:"id,attr"`
	Direction string       `xml:"direction,attr,omitempty"`
	State     string       `xml:"state"`
	Local     *participant `xml:"local,omitempty"`
	Remote    *participant `xml:"remote,omitempty"`
}

type participant struct {
	Identity string `xml:"identity"`
}

// dialogStates are the RFC 4235 §4.1.2 state values.
var dialogStates = map[presence.DialogState]bool{
	"trying": true, "proceeding": true,
	presence.DialogEarly: true, presence.DialogConfirmed: true, presence.DialogTerminated: true,
}

// dialogInfoBody renders st as the version'th full-state document for
// entity (the watched AOR); host is ours, for the remote party's URI.
// Dialogs without an id or with a state RFC 4235 does not name are left
// out.
func dialogInfoBody(st presence.State, version int, entity, host string) []byte {
	doc := dialogInfo{Version: version, State: "full", Entity: entity}
	for _, d := range st.Dialogs {
		if d.ID == "" || !dialogStates[d.State] {
			continue
		}
		e := dialogElem{ID: d.ID, Direction: "recipient", State: string(d.State), Local: &participant{Identity: entity}}
		if d.Initiator {
			e.Direction = "initiator"
		}
		if safeURIUser(d.Remote) {
			e.Remote = &participant{Identity: "sip:" + d.Remote + "@" + host}
		}
		doc.Dialogs = append(doc.Dialogs, e)
	}
	out, err := xml.Marshal(doc)
	if err != nil { // strings only: cannot happen
		return nil
	}
	return append([]byte(xml.Header), out...)
}

// safeURIUser reports whether s can stand as a SIP URI's user part as it
// is: a number or extension (RFC 3261 §25.1 unreserved characters and +).
func safeURIUser(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || strings.ContainsRune("+-_.!~*", c)) {
			return false
		}
	}
	return true
}

// Subscription header errors; the SUBSCRIBE is answered 400 (or 489 for
// an event package we do not serve).
var (
	errBadEvent   = errors.New("sip: malformed Event header")
	errBadExpires = errors.New("sip: malformed Expires header")
)

// maxEventLen bounds an Event header value.
const maxEventLen = 256

// parseEvent reads the Event header values of a SUBSCRIBE (RFC 6665
// §8.2.1, §7.2.1): exactly one, an event type token and parameters, of
// which "id" tells subscriptions in one dialog apart. Other parameters
// (RFC 4235 §3.2's call-id filters) are ignored: we send every dialog.
func parseEvent(values []string) (pkg, id string, err error) {
	if len(values) != 1 || len(values[0]) > maxEventLen {
		return "", "", errBadEvent
	}
	parts := strings.Split(values[0], ";")
	pkg = strings.TrimSpace(parts[0])
	if !isToken(pkg) {
		return "", "", errBadEvent
	}
	for _, p := range parts[1:] {
		name, val, hasVal := strings.Cut(p, "=")
		name, val = strings.TrimSpace(name), strings.TrimSpace(val)
		if !isToken(name) || hasVal && val == "" {
			return "", "", errBadEvent
		}
		if len(val) >= 2 && val[0] == '"' && val[len(val)-1] == '"' {
			val = val[1 : len(val)-1]
			if !quotable(val) {
				return "", "", errBadEvent
			}
		} else if hasVal && !isToken(val) {
			return "", "", errBadEvent
		}
		if strings.EqualFold(name, "id") {
			id = val
		}
	}
	return pkg, id, nil
}

// quotable reports whether s can go between quotes as it is: printable
// ASCII without quotes or backslashes.
func quotable(s string) bool {
	for _, c := range s {
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !isTokenChar(c) {
			return false
		}
	}
	return true
}

// acceptsDialogInfo reports whether the Accept header values admit
// dialog-info bodies. No Accept header means the package's default type
// (RFC 6665 §4.1.2), which is ours; an empty one admits nothing.
func acceptsDialogInfo(values []string) bool {
	if len(values) == 0 {
		return true
	}
	for _, v := range values {
		for _, r := range strings.Split(v, ",") {
			typ, _, _ := strings.Cut(r, ";")
			switch strings.ToLower(strings.TrimSpace(typ)) {
			case dialogInfoType, "application/*", "*/*":
				return true
			}
		}
	}
	return false
}

// parseExpires reads a SUBSCRIBE's Expires header (RFC 3261 §20.19:
// delta-seconds), def when there is none. Values past a day are a day:
// the caller clamps them anyway.
func parseExpires(values []string, def int) (int, error) {
	switch len(values) {
	case 0:
		return def, nil
	case 1:
	default:
		return 0, errBadExpires
	}
	v := strings.TrimSpace(values[0])
	if v == "" || len(v) > 10 {
		return 0, errBadExpires
	}
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, errBadExpires
		}
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, errBadExpires
	}
	return min(n, 86400), nil
}
