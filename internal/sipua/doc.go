// Package sipua is Switchboard's SIP side: transports and transactions come
// from sipgo; registrations, digest authentication, dialogs, calls to and
// from desk phones and trunks are ours. sipgo types do not leave this
// package.
//
// Calls, by role:
//
//   - inbound.go: the answering side (UAS). A desk phone or a trunk calls
//     us: handleInvite authenticates and places the call, and caller is
//     the call.Party that answers the INVITE with the call's outcome.
//   - outbound.go: the calling side (UAC). outDialog is what our INVITEs
//     share; callee.go rings a registered phone (callee), trunkcall.go
//     calls out through the trunks carrying a number (trunkCall), and
//     geoloc.go adds an emergency call's location.
//   - dialog.go: what both sides share once there is a dialog: sipParty
//     (embedded by caller and outDialog: the call leg, state, REFER
//     NOTIFYs, BYE), matching in-dialog requests to their party (track,
//     lookup), re-INVITEs (hold, resume), BYE and ACK.
//   - dialogstate.go: dialogState, the one state of a party's dialog, and
//     its transition table.
//   - rtpwatch.go: the RTP inactivity watch that ends a silent SIP leg.
//   - media.go: a SIP leg's media (WebRTC on WS/WSS, RTP with SRTP policy).
//   - refer.go (transfers, RFC 3515), info.go (DTMF INFO), limits.go (the
//     answer to a refused INVITE).
//
// The rest: ua.go (the UA, its handlers and lifecycle), transport.go,
// compat.go, validate.go and respond.go (what reaches a handler, and how
// it is answered), tls.go and ws.go (transports), registrar.go, digest.go
// and bruteforce.go (REGISTER and authentication), trunks.go and
// trunkreg.go (trunks and their registrations), subscribe.go,
// subscription.go, dialoginfo.go and presence.go (BLF), metrics.go.
package sipua
