package api

import (
	"context"
	"errors"
	"net"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/switchboard-voice/switchboard/internal/config"
	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/store"
)

// TrunkStatus is how a trunk's registration stands, and how it answered
// its last OPTIONS ping.
type TrunkStatus struct {
	State     string // off, registering, registered, failed or standby (cluster)
	ExpiresAt time.Time
	LastError string
	Options   TrunkOptions
}

// TrunkOptions is a trunk's last OPTIONS ping (sip.trunk_options_interval).
type TrunkOptions struct {
	State     string // off, unknown, reachable or unreachable
	RTT       time.Duration
	Status    int
	CheckedAt time.Time
	LastError string
}

type optionsJSON struct {
	State     string   `json:"state"`
	RTTMillis *float64 `json:"rtt_ms"`
	Status    *int     `json:"status"`
	CheckedAt *string  `json:"checked_at"`
	LastError *string  `json:"last_error"`
}

func optionsView(o TrunkOptions) optionsJSON {
	v := optionsJSON{State: o.State}
	if v.State == "" {
		v.State = "off"
	}
	if !o.CheckedAt.IsZero() {
		at := rfc3339(o.CheckedAt)
		v.CheckedAt = &at
	}
	if o.State == "reachable" {
		ms := float64(o.RTT.Microseconds()) / 1000
		v.RTTMillis, v.Status = &ms, &o.Status
	}
	if o.LastError != "" {
		v.LastError = &o.LastError
	}
	return v
}

// TrunkRuntime is the SIP side's use of trunks: it re-reads the stored
// trunks after every change (new calls use them at once) and reports
// registrations.
type TrunkRuntime interface {
	ReloadTrunks(ctx context.Context) error
	TrunkStatus(id ident.TrunkID) TrunkStatus
}

var (
	trunkNameRe     = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)
	hostnameRe      = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$`)
	prefixRe        = regexp.MustCompile(`^\+[0-9]{1,15}$`)
	trunkUsernameRe = regexp.MustCompile(`^[A-Za-z0-9._~!$&'()*+,;=%-]{1,64}$`) // RFC 3261 user chars
)

type registrationJSON struct {
	State     string  `json:"state"`
	ExpiresAt *string `json:"expires_at"`
	LastError *string `json:"last_error"`
}

type trunkJSON struct {
	Object           string           `json:"object"`
	ID               string           `json:"id"`
	Name             string           `json:"name"`
	Host             string           `json:"host"`
	Port             int              `json:"port"`
	Transport        string           `json:"transport"`
	Username         string           `json:"username"`
	Prefixes         []string         `json:"prefixes"`
	Priority         int              `json:"priority"`
	InboundAddresses []string         `json:"inbound_addresses"`
	InboundAuth      string           `json:"inbound_auth"`
	InboundUsername  string           `json:"inbound_username"`
	Register         bool             `json:"register"`
	RegisterExpires  int              `json:"register_expires"`
	Registration     registrationJSON `json:"registration"`
	Options          optionsJSON      `json:"options"`
	CreatedAt        string           `json:"created_at"`
	UpdatedAt        string           `json:"updated_at"`
}

// trunkView shows t without its passwords.
func (a *API) trunkView(t *store.Trunk) trunkJSON {
	v := trunkJSON{Object: "trunk", ID: string(t.ID), Name: t.Name, Host: t.Host, Port: t.Port, Transport: t.Transport,
		Username: t.Username, Prefixes: t.Prefixes, Priority: t.Priority, InboundAddresses: t.InboundAddresses,
		InboundAuth: t.InboundAuth, InboundUsername: t.InboundUsername, Register: t.Register, RegisterExpires: t.RegisterExpires, Registration: registrationJSON{State: "off"},
		CreatedAt: rfc3339(t.CreatedAt), UpdatedAt: rfc3339(t.UpdatedAt)}
	if v.Prefixes == nil {
		v.Prefixes = []string{}
	}
	if v.InboundAddresses == nil {
		v.InboundAddresses = []string{}
	}
	v.Options = optionsJSON{State: "off"}
	if a.Trunks != nil {
		v.Options = optionsView(a.Trunks.TrunkStatus(t.ID).Options)
	}
	if t.Register && a.Trunks != nil {
		s := a.Trunks.TrunkStatus(t.ID)
		v.Registration.State = s.State
		if !s.ExpiresAt.IsZero() {
			e := rfc3339(s.ExpiresAt)
			v.Registration.ExpiresAt = &e
		}
		if s.LastError != "" {
			v.Registration.LastError = &s.LastError
		}
	}
	return v
}

// trunkInput is the body of create and update; pointers tell "absent".
type trunkInput struct {
	Name             *string   `json:"name"`
	Host             *string   `json:"host"`
	Port             *int      `json:"port"`
	Transport        *string   `json:"transport"`
	Username         *string   `json:"username"`
	Password         *string   `json:"password"`
	Prefixes         *[]string `json:"prefixes"`
	Priority         *int      `json:"priority"`
	InboundAddresses *[]string `json:"inbound_addresses"`
	InboundAuth      *string   `json:"inbound_auth"`
	InboundUsername  *string   `json:"inbound_username"`
	InboundPassword  *string   `json:"inbound_password"`
	Register         *bool     `json:"register"`
	RegisterExpires  *int      `json:"register_expires"`
}

// apply sets the given fields on t.
func (in *trunkInput) apply(t *store.Trunk) {
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	set(&t.Name, in.Name)
	set(&t.Host, in.Host)
	set(&t.Transport, in.Transport)
	set(&t.Username, in.Username)
	set(&t.Password, in.Password)
	set(&t.InboundAuth, in.InboundAuth)
	set(&t.InboundUsername, in.InboundUsername)
	set(&t.InboundPassword, in.InboundPassword)
	if in.Port != nil {
		t.Port = *in.Port
	}
	if in.Prefixes != nil {
		t.Prefixes = *in.Prefixes
	}
	if in.Priority != nil {
		t.Priority = *in.Priority
	}
	if in.InboundAddresses != nil {
		t.InboundAddresses = *in.InboundAddresses
	}
	if in.Register != nil {
		t.Register = *in.Register
	}
	if in.RegisterExpires != nil {
		t.RegisterExpires = *in.RegisterExpires
	}
}

// CheckTrunk validates a trunk as the config file's trunks are validated,
// filling in defaults (port 5060, udp, register_expires 600, inbound_auth
// address). Errors are *Error with a stable code.
func CheckTrunk(t *store.Trunk) error {
	bad := func(code, format string, args ...any) error {
		return apiErr(http.StatusBadRequest, code, format, args...)
	}
	if t.Port == 0 {
		t.Port = 5060
	}
	if t.Transport == "" {
		t.Transport = "udp"
	}
	if t.RegisterExpires == 0 {
		t.RegisterExpires = 600
	}
	if t.InboundAuth == "" {
		t.InboundAuth = config.InboundAuthAddress
	}
	switch {
	case t.Name == "":
		return bad("missing_field", "name is required")
	case t.Host == "":
		return bad("missing_field", "host is required")
	case !trunkNameRe.MatchString(t.Name):
		return bad("invalid_name", "name %q: want 1 to 32 letters, digits, - or _", t.Name)
	case net.ParseIP(t.Host) == nil && !hostnameRe.MatchString(t.Host):
		return bad("invalid_host", "host %q: want a hostname or an IP address", t.Host)
	case t.Port < 1 || t.Port > 65535:
		return bad("invalid_port", "port must be 1 to 65535")
	case t.Transport != "udp" && t.Transport != "tcp":
		return bad("invalid_transport", "transport %q: want udp or tcp", t.Transport)
	case (t.Username == "") != (t.Password == ""):
		return bad("invalid_credentials", "username and password go together")
	case t.Username != "" && !trunkUsernameRe.MatchString(t.Username):
		return bad("invalid_username", "username %q: not a SIP user name", t.Username)
	case len(t.Password) > 128 || strings.ContainsAny(t.Password, "\r\n\x00"):
		return bad("invalid_password", "password must be at most 128 characters without line breaks")
	case t.Priority < 0:
		return bad("invalid_priority", "priority must not be negative")
	case t.Register && t.Username == "":
		return bad("invalid_register", "register needs a username and password")
	case t.RegisterExpires < 60 || t.RegisterExpires > 86400:
		return bad("invalid_register_expires", "register_expires must be 60 to 86400 seconds")
	}
	for _, p := range t.Prefixes {
		if !prefixRe.MatchString(p) {
			return bad("invalid_prefix", "prefix %q: want + and 1 to 15 digits", p)
		}
	}
	for _, a := range t.InboundAddresses {
		if _, _, err := config.ParseInboundAddress(a); err != nil {
			return bad("invalid_inbound_address", "inbound_addresses: %v", err)
		}
	}
	return checkInboundAuth(t)
}

// checkInboundAuth checks what a trunk's INVITEs must show besides their
// source address.
func checkInboundAuth(t *store.Trunk) error {
	bad := func(code, format string, args ...any) error {
		return apiErr(http.StatusBadRequest, code, format, args...)
	}
	switch {
	case t.InboundAuth != config.InboundAuthAddress && t.InboundAuth != config.InboundAuthDigest:
		return bad("invalid_inbound_auth", "inbound_auth %q: want address or digest", t.InboundAuth)
	case t.InboundAuth == config.InboundAuthDigest && (t.InboundUsername == "" || t.InboundPassword == ""):
		return bad("invalid_inbound_credentials", "inbound_auth digest needs inbound_username and inbound_password")
	case t.InboundAuth == config.InboundAuthAddress && (t.InboundUsername != "" || t.InboundPassword != ""):
		return bad("invalid_inbound_credentials", "inbound_username and inbound_password are used only with inbound_auth digest")
	case t.InboundUsername != "" && !trunkUsernameRe.MatchString(t.InboundUsername):
		return bad("invalid_inbound_username", "inbound_username %q: not a SIP user name", t.InboundUsername)
	case len(t.InboundPassword) > 128 || strings.ContainsAny(t.InboundPassword, "\r\n\x00"):
		return bad("invalid_inbound_password", "inbound_password must be at most 128 characters without line breaks")
	}
	return nil
}

// trunkNameTaken is the 409 for a name another trunk (stored or in the
// config file) has.
func trunkNameTaken(name string) error {
	return apiErr(http.StatusConflict, "trunk_name_taken", "trunk name %q is taken", name)
}

// checkTrunkName refuses the names of the config file's trunks.
func (a *API) checkTrunkName(name string) error {
	for _, n := range a.ConfigTrunks {
		if strings.EqualFold(n, name) {
			return trunkNameTaken(name)
		}
	}
	return nil
}

func trunkWriteErr(t *store.Trunk, err error) error {
	if errors.Is(err, store.ErrConflict) {
		return trunkNameTaken(t.Name)
	}
	return err
}

func trunkNotFound(r *http.Request, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return apiErr(http.StatusNotFound, "trunk_not_found", "no trunk %q", r.PathValue("id"))
	}
	return err
}

// reloadTrunks makes the SIP side use the stored trunks now.
func (a *API) reloadTrunks(ctx context.Context) error {
	if a.Trunks == nil {
		return nil
	}
	return a.Trunks.ReloadTrunks(ctx)
}

func (a *API) createTrunk(r *http.Request) (int, any, error) {
	var in trunkInput
	if err := decode(r, &in); err != nil {
		return 0, nil, err
	}
	var t store.Trunk
	in.apply(&t)
	if err := CheckTrunk(&t); err != nil {
		return 0, nil, err
	}
	if err := a.checkTrunkName(t.Name); err != nil {
		return 0, nil, err
	}
	if err := a.Store.CreateTrunk(r.Context(), &t); err != nil {
		return 0, nil, trunkWriteErr(&t, err)
	}
	if err := a.reloadTrunks(r.Context()); err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, a.trunkView(&t), nil
}

func (a *API) listTrunks(r *http.Request) (int, any, error) {
	opt, err := listOptions(r)
	if err != nil {
		return 0, nil, err
	}
	ts, more, err := a.Store.ListTrunks(r.Context(), opt)
	if err != nil {
		return 0, nil, err
	}
	out := listJSON[trunkJSON]{Object: "list", Data: make([]trunkJSON, 0, len(ts)), HasMore: more}
	for i := range ts {
		out.Data = append(out.Data, a.trunkView(&ts[i]))
	}
	return http.StatusOK, out, nil
}

func (a *API) getTrunk(r *http.Request) (int, any, error) {
	t, err := a.Store.GetTrunk(r.Context(), ident.TrunkID(r.PathValue("id")))
	if err != nil {
		return 0, nil, trunkNotFound(r, err)
	}
	return http.StatusOK, a.trunkView(t), nil
}

func (a *API) updateTrunk(r *http.Request) (int, any, error) {
	var in trunkInput
	if err := decode(r, &in); err != nil {
		return 0, nil, err
	}
	t, err := a.Store.GetTrunk(r.Context(), ident.TrunkID(r.PathValue("id")))
	if err != nil {
		return 0, nil, trunkNotFound(r, err)
	}
	in.apply(t)
	if err := CheckTrunk(t); err != nil {
		return 0, nil, err
	}
	if err := a.checkTrunkName(t.Name); err != nil {
		return 0, nil, err
	}
	if err := a.Store.UpdateTrunk(r.Context(), t); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return 0, nil, trunkNotFound(r, err)
		}
		return 0, nil, trunkWriteErr(t, err)
	}
	if err := a.reloadTrunks(r.Context()); err != nil {
		return 0, nil, err
	}
	return http.StatusOK, a.trunkView(t), nil
}

func (a *API) deleteTrunk(r *http.Request) (int, any, error) {
	id := ident.TrunkID(r.PathValue("id"))
	if err := a.Store.DeleteTrunk(r.Context(), id); err != nil {
		return 0, nil, trunkNotFound(r, err)
	}
	if err := a.reloadTrunks(r.Context()); err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"object": "trunk", "id": id, "deleted": true}, nil
}
