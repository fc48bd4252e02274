// Package ident defines Switchboard's typed identifiers. Every id carries a
// readable prefix (user_, acct_, call_, …) so a value in a log line or a bug
// report says what it is.
package ident

import (
	"crypto/rand"
	"encoding/base32"
	"strings"
)

// AccountID identifies an account (a company); values start with "acct_".
type AccountID string

// UserID identifies a user; values start with "user_".
type UserID string

// PhoneNumberID identifies a phone number resource; values start with "pn_".
type PhoneNumberID string

// SessionID identifies a device session (one signalling socket and its
// reconnects); values start with "sess_".
type SessionID string

// CallID identifies a call; values start with "call_".
type CallID string

// LegID identifies one leg of a call; values start with "leg_".
type LegID string

// TrunkID identifies a SIP trunk; values start with "trunk_".
type TrunkID string

// RingGroupID identifies a ring group; values start with "rg_".
type RingGroupID string

// EmergencyAddressID identifies a user's emergency address; values start
// with "emerg_".
type EmergencyAddressID string

var enc = base32.StdEncoding.WithPadding(base32.NoPadding)

// random returns prefix followed by 16 random characters (80 bits).
func random(prefix string) string {
	var b [10]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("ident: crypto/rand failed: " + err.Error()) // crypto/rand never fails on Linux
	}
	return prefix + strings.ToLower(enc.EncodeToString(b[:]))
}

// NewAccountID returns a fresh account id.
func NewAccountID() AccountID { return AccountID(random("acct_")) }

// NewUserID returns a fresh user id.
func NewUserID() UserID { return UserID(random("user_")) }

// NewPhoneNumberID returns a fresh phone number id.
func NewPhoneNumberID() PhoneNumberID { return PhoneNumberID(random("pn_")) }

// NewSessionID returns a fresh device session id.
func NewSessionID() SessionID { return SessionID(random("sess_")) }

// NewCallID returns a fresh call id.
func NewCallID() CallID { return CallID(random("call_")) }

// NewLegID returns a fresh leg id.
func NewLegID() LegID { return LegID(random("leg_")) }

// NewTrunkID returns a fresh trunk id.
func NewTrunkID() TrunkID { return TrunkID(random("trunk_")) }

// NewRingGroupID returns a fresh ring group id.
func NewRingGroupID() RingGroupID { return RingGroupID(random("rg_")) }

// NewEmergencyAddressID returns a fresh emergency address id.
func NewEmergencyAddressID() EmergencyAddressID { return EmergencyAddressID(random("emerg_")) }

// Short returns a short random token for error ids that are shown to a
// client and logged, so the two can be matched.
func Short() string { return random("")[:8] }

// RecordingID identifies a call recording; values start with "rec_".
type RecordingID string

// NewRecordingID returns a fresh recording id.
func NewRecordingID() RecordingID { return RecordingID(random("rec_")) }
