package sipua

import (
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
)

// The edge's dialogs (docs/adr/0010-sip-edge-proxy.md). A phone's own flow
// token in a Route is no proof that the dialog it names is the phone's:
// the owner accepts in-dialog requests for any of its edge callees from
// the edge's address, so a phone could otherwise send BYE, re-INVITE or
// REFER into another phone's dialog through the same edge, knowing its
// Call-ID and tags. So the edge remembers, per token, the dialogs it
// Record-Routed for that token (an initial INVITE from a peer, forwarded
// to the phone), and forwards an in-dialog request from the phone only
// for one of them. A dialog is forgotten when its INVITE fails, when a
// BYE ends it, when it has carried no request for edgeDialogTTL, or when
// the phone has edgeDialogsPerFlow newer ones (the least recently used
// goes): memory per phone is bounded.

// Bounds of the edge's dialog table (variables for tests).
var (
	edgeDialogTTL      = 12 * time.Hour
	edgeDialogsPerFlow = 32
	edgeDialogSweep    = time.Minute // how often expired dialogs of every flow are dropped
)

// edgeDialog is one dialog the edge Record-Routed for a flow.
type edgeDialog struct {
	callID   string
	peerTag  string // the owner's tag (the INVITE's From tag)
	phoneTag string // the phone's tag (its 2xx's To tag); "" while early
	used     time.Time
}

// edgeDialogs is the edge's dialog table, by flow token. Safe for
// concurrent use.
type edgeDialogs struct {
	now   func() time.Time
	mu    sync.Mutex
	flows map[string][]edgeDialog
	swept time.Time
}

func newEdgeDialogs() *edgeDialogs {
	return &edgeDialogs{now: time.Now, flows: map[string][]edgeDialog{}}
}

// add remembers the dialog an initial INVITE for flow tok starts
// (replacing one with the same Call-ID), evicting the flow's least
// recently used dialog beyond the bound.
func (d *edgeDialogs) add(tok, callID, peerTag string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.now()
	d.sweepLocked(now)
	ds := live(d.flows[tok], now)
	for i := range ds {
		if ds[i].callID == callID {
			ds = append(ds[:i], ds[i+1:]...)
			break
		}
	}
	if len(ds) >= edgeDialogsPerFlow {
		oldest := 0
		for i := range ds {
			if ds[i].used.Before(ds[oldest].used) {
				oldest = i
			}
		}
		ds = append(ds[:oldest], ds[oldest+1:]...)
	}
	d.flows[tok] = append(ds, edgeDialog{callID: callID, peerTag: peerTag, used: now})
}

// confirm records the phone's tag of tok's dialog callID (from its 2xx).
func (d *edgeDialogs) confirm(tok, callID, phoneTag string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if i := d.findLocked(tok, callID); i >= 0 {
		d.flows[tok][i].phoneTag = phoneTag
	}
}

// forget drops tok's dialog callID.
func (d *edgeDialogs) forget(tok, callID string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	i := d.findLocked(tok, callID)
	if i < 0 {
		return
	}
	ds := d.flows[tok]
	ds = append(ds[:i], ds[i+1:]...)
	if len(ds) == 0 {
		delete(d.flows, tok)
		return
	}
	d.flows[tok] = ds
}

// touch marks tok's dialog callID as used now (a peer's in-dialog
// request): a long call stays known.
func (d *edgeDialogs) touch(tok, callID string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if i := d.findLocked(tok, callID); i >= 0 {
		d.flows[tok][i].used = d.now()
	}
}

// allows reports whether an in-dialog request from the phone of flow tok
// (Call-ID, From tag: the phone's, To tag: the owner's) belongs to a
// dialog the edge Record-Routed for that flow; it marks it used.
func (d *edgeDialogs) allows(tok, callID, fromTag, toTag string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	i := d.findLocked(tok, callID)
	if i < 0 {
		return false
	}
	dlg := &d.flows[tok][i]
	if dlg.peerTag != toTag || dlg.phoneTag != "" && dlg.phoneTag != fromTag {
		return false
	}
	dlg.used = d.now()
	return true
}

// findLocked is the index of tok's live dialog callID, or -1.
func (d *edgeDialogs) findLocked(tok, callID string) int {
	now := d.now()
	for i, dlg := range d.flows[tok] {
		if dlg.callID == callID && now.Sub(dlg.used) < edgeDialogTTL {
			return i
		}
	}
	return -1
}

// sweepLocked drops every flow's expired dialogs, at most once per
// edgeDialogSweep: the table holds no flow whose dialogs all expired.
func (d *edgeDialogs) sweepLocked(now time.Time) {
	if now.Sub(d.swept) < edgeDialogSweep {
		return
	}
	d.swept = now
	for tok, ds := range d.flows {
		if ds = live(ds, now); len(ds) == 0 {
			delete(d.flows, tok)
		} else {
			d.flows[tok] = ds
		}
	}
}

// live is ds without its expired dialogs (in place).
func live(ds []edgeDialog, now time.Time) []edgeDialog {
	out := ds[:0]
	for _, dlg := range ds {
		if now.Sub(dlg.used) < edgeDialogTTL {
			out = append(out, dlg)
		}
	}
	return out
}

// size is the number of dialogs the table holds (tests).
func (d *edgeDialogs) size() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, ds := range d.flows {
		n += len(ds)
	}
	return n
}

// edgeSettled updates the dialog table once a request the edge proxied
// has its final response (nil: none came, the transaction timed out).
func (u *UA) edgeSettled(hop *edgeHop, final *sip.Response) {
	callID := hop.out.CallID().Value()
	switch {
	case hop.initial && final != nil && final.IsSuccess() && final.To() != nil:
		tag, _ := final.To().Params.Get("tag")
		u.edgeDlg.confirm(hop.tok, callID, tag)
	case hop.initial:
		u.edgeDlg.forget(hop.tok, callID) // no dialog: refused, cancelled, timed out
	case hop.out.Method == sip.BYE && (final == nil || final.IsSuccess() || final.StatusCode == 481 || final.StatusCode == 408):
		u.edgeDlg.forget(hop.tok, callID) // the dialog is over (RFC 3261 §15.1.1)
	}
}
