package api

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/switchboard-voice/switchboard/internal/auth"
	"github.com/switchboard-voice/switchboard/internal/emergency"
	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/store"
)

// MaxEmergencyAddresses caps a user's saved emergency addresses.
const MaxEmergencyAddresses = 20

const emergencyPath = "/v1/me/emergency-addresses"

// emergencyRoutes adds the user-token endpoints for the caller's own
// emergency addresses. The shapes are those DialStack's SDK reads
// (EmergencyAddress, ListResponse).
func (a *API) emergencyRoutes(handle func(string, map[string]handler)) {
	handle(emergencyPath, map[string]handler{
		"GET": a.me(a.listEmergencyAddresses), "POST": a.me(a.createEmergencyAddress)})
	handle(emergencyPath+"/{id}", map[string]handler{
		"GET": a.me(a.getEmergencyAddress), "DELETE": a.me(a.deleteEmergencyAddress)})
	handle(emergencyPath+"/{id}/registered_ip", map[string]handler{"DELETE": a.me(a.clearEmergencyAddressIP)})
}

type emergencyAddressJSON struct {
	Object       string               `json:"object"`
	ID           string               `json:"id"`
	Address      emergencyDetailsJSON `json:"address"`
	RegisteredIP *string              `json:"registered_ip"`
	CreatedAt    string               `json:"created_at"`
}

type emergencyDetailsJSON struct {
	emergency.Civic
	FormattedAddress string `json:"formatted_address"`
}

func emergencyView(e *store.EmergencyAddress) emergencyAddressJSON {
	v := emergencyAddressJSON{Object: "emergency_address", ID: string(e.ID), CreatedAt: rfc3339(e.CreatedAt),
		Address: emergencyDetailsJSON{Civic: e.Civic, FormattedAddress: e.FormattedAddress}}
	if e.RegisteredIP != "" {
		ip := e.RegisteredIP
		v.RegisteredIP = &ip
	}
	return v
}

// emergencyListJSON is DialStack's ListResponse envelope: next and previous
// pages are paths relative to the API base, null at either end.
type emergencyListJSON struct {
	Object          string                 `json:"object"`
	URL             string                 `json:"url"`
	NextPageURL     *string                `json:"next_page_url"`
	PreviousPageURL *string                `json:"previous_page_url"`
	Data            []emergencyAddressJSON `json:"data"`
}

func emergencyOwner(r *http.Request) auth.Identity {
	return r.Context().Value(identityKey{}).(auth.Identity)
}

// addressID is the {id} path value when it is shaped like an address id;
// anything else cannot exist (404), without a store lookup.
func addressID(r *http.Request) (ident.EmergencyAddressID, error) {
	id := r.PathValue("id")
	if !strings.HasPrefix(id, "emerg_") || len(id) > 64 {
		return "", apiErr(http.StatusNotFound, "not_found", "no emergency address %q", id)
	}
	return ident.EmergencyAddressID(id), nil
}

func (a *API) createEmergencyAddress(r *http.Request) (int, any, error) {
	var in emergency.Civic
	if err := decode(r, &in); err != nil {
		return 0, nil, err
	}
	if errs := emergency.Check(&in); len(errs) > 0 {
		return 0, nil, invalidAddress(errs)
	}
	id := emergencyOwner(r)
	e := &store.EmergencyAddress{UserID: id.UserID, AccountID: id.AccountID, Civic: in, FormattedAddress: in.Formatted()}
	err := a.Store.CreateEmergencyAddress(r.Context(), e, MaxEmergencyAddresses)
	if errors.Is(err, store.ErrLimit) {
		return 0, nil, apiErr(http.StatusConflict, "emergency_address_limit",
			"at most %d emergency addresses per user: delete one first", MaxEmergencyAddresses)
	}
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, emergencyView(e), nil
}

// invalidAddress is the 422 for an address that fails validation: details
// name the first field (details.field, as elsewhere) and list every problem.
func invalidAddress(errs []emergency.FieldError) *Error {
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	e := apiErr(http.StatusUnprocessableEntity, "invalid_emergency_address", "invalid address: %s", strings.Join(msgs, "; "))
	e.Details = map[string]any{"field": errs[0].Field, "errors": errs}
	return e
}

func (a *API) getEmergencyAddress(r *http.Request) (int, any, error) {
	id, err := addressID(r)
	if err != nil {
		return 0, nil, err
	}
	e, err := a.Store.GetEmergencyAddress(r.Context(), emergencyOwner(r).UserID, id)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, emergencyView(e), nil
}

func (a *API) deleteEmergencyAddress(r *http.Request) (int, any, error) {
	id, err := addressID(r)
	if err != nil {
		return 0, nil, err
	}
	if err := a.Store.DeleteEmergencyAddress(r.Context(), emergencyOwner(r).UserID, id); err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, nil
}

func (a *API) clearEmergencyAddressIP(r *http.Request) (int, any, error) {
	id, err := addressID(r)
	if err != nil {
		return 0, nil, err
	}
	if err := a.Store.ClearEmergencyAddressIP(r.Context(), emergencyOwner(r).UserID, id); err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, nil
}

// listEmergencyAddresses pages the user's addresses, newest first, with
// limit (1–100, default 10) and starting_after or ending_before (an id).
// A user has at most MaxEmergencyAddresses, so pages are cut in memory.
func (a *API) listEmergencyAddresses(r *http.Request) (int, any, error) {
	q := r.URL.Query()
	limit := 10
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 100 {
			return 0, nil, badField("limit", "invalid_limit", "limit must be 1 to 100")
		}
		limit = n
	}
	all, err := a.Store.ListEmergencyAddresses(r.Context(), emergencyOwner(r).UserID)
	if err != nil {
		return 0, nil, err
	}
	from, to, err := emergencyWindow(all, q.Get("starting_after"), q.Get("ending_before"), limit)
	if err != nil {
		return 0, nil, err
	}
	out := emergencyListJSON{Object: "list", URL: emergencyPath, Data: []emergencyAddressJSON{}}
	for i := from; i < to; i++ {
		out.Data = append(out.Data, emergencyView(&all[i]))
	}
	page := func(key string, id ident.EmergencyAddressID) *string {
		s := emergencyPath + "?" + url.Values{"limit": {strconv.Itoa(limit)}, key: {string(id)}}.Encode()
		return &s
	}
	if to > from && to < len(all) { // an empty page (before the first) has no next
		out.NextPageURL = page("starting_after", all[to-1].ID)
	}
	if from > 0 {
		out.PreviousPageURL = page("ending_before", all[from].ID)
	}
	return http.StatusOK, out, nil
}

// emergencyWindow is the [from, to) slice of all a page shows.
func emergencyWindow(all []store.EmergencyAddress, after, before string, limit int) (int, int, error) {
	find := func(key, id string) (int, error) {
		i := slices.IndexFunc(all, func(e store.EmergencyAddress) bool { return string(e.ID) == id })
		if i < 0 {
			return 0, badField(key, "invalid_cursor", "%s %q: no such emergency address", key, id)
		}
		return i, nil
	}
	switch {
	case after != "" && before != "":
		return 0, 0, badField("ending_before", "invalid_cursor", "give starting_after or ending_before, not both")
	case after != "":
		i, err := find("starting_after", after)
		return i + 1, min(i+1+limit, len(all)), err
	case before != "":
		i, err := find("ending_before", before)
		return max(i-limit, 0), i, err
	}
	return 0, min(limit, len(all)), nil
}
