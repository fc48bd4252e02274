// Package store defines the narrow persistence interfaces Switchboard's domain
// packages depend on, and the records they read and write. Implementations live
// in sub-packages (sqlite today); nothing outside them sees SQL.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/switchboard-voice/switchboard/internal/emergency"
	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/secrets"
)

// Sentinel errors. Implementations wrap them with %w so callers use errors.Is.
var (
	// ErrNotFound: no row with that key.
	ErrNotFound = errors.New("not found")
	// ErrConflict: a unique value (extension, SIP username, number) is taken.
	ErrConflict = errors.New("conflict")
	// ErrLimit: the owner already has as many rows of the kind as allowed.
	ErrLimit = errors.New("limit reached")
)

// Account is a company: it owns users and phone numbers.
type Account struct {
	ID   ident.AccountID
	Name string
	// DefaultCallerID is the E.164 number presented on outbound calls when the
	// caller asks for none it may use. Empty when unset.
	DefaultCallerID string
	CreatedAt       time.Time
}

// User is a person who places and receives calls from browsers and desk phones.
type User struct {
	ID        ident.UserID
	AccountID ident.AccountID
	Name      string
	Extension string
	// SIPUsername and SIPPassword are the digest credentials of the user's
	// desk phones. SIPPassword is write-only: set it to create or change
	// the password; the store keeps only SIPHA1 (for SIPUsername and the
	// store's realm), so users read back have it empty.
	SIPUsername  string
	SIPPassword  string
	SIPHA1       secrets.HA1 `json:"-"`
	DoNotDisturb bool
	// StatusText is the short status the user sets for presence ("back
	// at 3"); empty when unset.
	StatusText string
	// CanCallExternal lets the user call numbers outside the account
	// through trunks. Emergency numbers are always allowed. New users may.
	CanCallExternal bool
	// RingTimeoutSeconds is how long the user's devices ring before the call
	// gives up with no-answer. Zero means the server default.
	RingTimeoutSeconds int
	// TokenGeneration is bumped to revoke every user token issued before.
	TokenGeneration int64
	// Role is RoleUser or RoleAdmin; empty is stored as RoleUser.
	Role      Role
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Role is what a user may do beyond calling: an admin user's tokens may
// use the admin API for their own account.
type Role string

// Roles.
const (
	RoleUser  Role = "user"
	RoleAdmin Role = "admin"
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r == RoleUser || r == RoleAdmin }

// UserPatch holds the fields of an update; nil means unchanged.
type UserPatch struct {
	Name               *string
	Extension          *string
	SIPUsername        *string
	SIPPassword        *string
	DoNotDisturb       *bool
	CanCallExternal    *bool
	RingTimeoutSeconds *int
	StatusText         *string
	Role               *Role
}

// PhoneNumber is an E.164 number owned by an account, optionally routed to a user.
type PhoneNumber struct {
	ID        ident.PhoneNumberID
	AccountID ident.AccountID
	Number    string
	UserID    ident.UserID // empty when not routed to a user
	// RingGroupID routes the number to a ring group instead of a user
	// (at most one of UserID and RingGroupID is set).
	RingGroupID ident.RingGroupID
	CreatedAt   time.Time
}

// PhoneNumberPatch holds the fields of an update; nil means unchanged. A
// pointer to an empty UserID clears the routing.
type PhoneNumberPatch struct {
	UserID      *ident.UserID
	RingGroupID *ident.RingGroupID
}

// DialPlan is an account's routing settings. GetDialPlan returns
// DefaultDialPlan for an account that never stored one.
type DialPlan struct {
	AccountID ident.AccountID
	// ExtensionLength is the number of digits of the account's extensions;
	// 0 accepts any 2–8 digits.
	ExtensionLength int
	// Country is the ISO 3166 alpha-2 code national numbers are dialled
	// in (e.g. "US", "GB"); empty refuses national numbers.
	Country string
	// EmergencyNumbers are always routable, whatever the caller may dial
	// otherwise, to EmergencyTrunk (a trunk name; empty: any trunk
	// that carries the number).
	EmergencyNumbers []string
	EmergencyTrunk   string
	// InternationalAllow lists the E.164 prefixes callers may reach
	// outside Country (e.g. "+44"); empty allows none, "+" allows all.
	InternationalAllow []string
	// MaxOutboundCalls caps the account's concurrent calls through trunks;
	// 0 is no cap.
	MaxOutboundCalls int
	// EmergencyAddressRequired refuses non-emergency calls through trunks
	// from device sessions with no emergency address bound to their
	// network (protocol error emergency_address_required).
	EmergencyAddressRequired bool
	UpdatedAt                time.Time
}

// DefaultDialPlan is the dial plan of an account that stored none.
func DefaultDialPlan(acct ident.AccountID) *DialPlan {
	return &DialPlan{AccountID: acct, Country: "US", EmergencyNumbers: []string{"911", "112"}}
}

// FollowMeStep rings its targets at once for RingSeconds. A target is
// "devices" (the user's own browsers and desk phones), an extension, or an
// E.164 number reached through a trunk.
type FollowMeStep struct {
	Targets     []string `json:"targets"`
	RingSeconds int      `json:"ring_seconds"`
}

// FollowMe is a user's find-me/follow-me: its steps ring one after the
// other; when all fail the call goes to FinalForward (a destination), or
// ends with no-answer when that is empty.
type FollowMe struct {
	UserID       ident.UserID
	Steps        []FollowMeStep
	FinalForward string
	UpdatedAt    time.Time
}

// RingGroup rings several users at once (each on all their devices) for
// RingSeconds, then goes to Next (a destination), or ends with no-answer
// when that is empty. It may have an extension of its own.
type RingGroup struct {
	ID          ident.RingGroupID
	AccountID   ident.AccountID
	Name        string
	Extension   string
	Members     []ident.UserID
	RingSeconds int
	Next        string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Trunk is an upstream SIP peer added at runtime (REST or CLI); it has the
// fields of a config file trunk (config.Trunk) plus an id.
type Trunk struct {
	ID        ident.TrunkID
	Name      string
	Host      string
	Port      int
	Transport string
	Username  string
	// Password answers the trunk's digest challenges; it is never shown,
	// and stored sealed with the master key.
	Password         string
	Prefixes         []string
	Priority         int
	InboundAddresses []string
	// InboundAuth is "address" or "digest" (config.Trunk.InboundAuth);
	// InboundPassword, like Password, is never shown and stored sealed.
	InboundAuth     string
	InboundUsername string
	InboundPassword string
	// Register sends REGISTER to the trunk every RegisterExpires seconds
	// (0: the default).
	Register        bool
	RegisterExpires int
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// LegStats is what a call record keeps about one leg's media.
type LegStats struct {
	LegID           ident.LegID `json:"leg_id"`
	Role            string      `json:"role"`   // "caller" or "callee"
	Kind            string      `json:"kind"`   // "webrtc" or "sip"
	Device          string      `json:"device"` // session id or SIP contact
	Codec           string      `json:"codec"`
	PacketsSent     uint64      `json:"packets_sent"`
	PacketsReceived uint64      `json:"packets_received"`
	PacketsLost     int64       `json:"packets_lost"`
	JitterMillis    float64     `json:"jitter_ms"`
	// BytesSent and BytesReceived count RTP payload bytes (zero in
	// records written before they were counted).
	BytesSent     uint64 `json:"bytes_sent"`
	BytesReceived uint64 `json:"bytes_received"`
	// EndReason is how this leg ended (e.g. "transferred" for the
	// transferor's leg); empty while the leg is up.
	EndReason string `json:"end_reason,omitempty"`
	// EndedBy is who ended the leg when not its own party: "supervisor"
	// for the admin API's hangup and transfer; empty otherwise.
	EndedBy string `json:"ended_by,omitempty"`
	// UserID is the user on the leg, when there is one.
	UserID ident.UserID `json:"user_id,omitempty"`
	// CallID is the call the leg's device knows it by, when that is not
	// the record's (a leg joined from another call by a transfer).
	CallID ident.CallID `json:"call_id,omitempty"`
	// Quality summarises the leg's estimated MOS (quality.go); nil when
	// no window was rated.
	Quality *QualitySummary `json:"quality,omitempty"`
}

// CallRecord is one row per call, created when the call starts and closed
// (EndedAt set) when it ends.
type CallRecord struct {
	ID         ident.CallID
	AccountID  ident.AccountID
	Direction  string // "outbound", "inbound" or "internal"
	FromUserID ident.UserID
	ToUserID   ident.UserID
	From       string
	FromName   string
	To         string
	// AnsweredBy is the device that answered: a session id or a SIP contact.
	AnsweredBy string
	StartedAt  time.Time
	AnsweredAt *time.Time
	EndedAt    *time.Time
	EndReason  string
	Legs       []LegStats
	// Transfer notes which calls were joined and by whom; empty when none.
	Transfer string
	// NodeID is the cluster node that owns the call (cluster.node_id);
	// empty on a single node. UpdateCallRecord keeps the stored one.
	NodeID string
}

// ListOptions pages a listing: at most Limit rows after the row whose id is
// StartingAfter (empty: from the start).
type ListOptions struct {
	Limit         int
	StartingAfter string
}

// CallFilter narrows a call-record listing. A non-empty UserID keeps the calls
// that user placed or received.
type CallFilter struct {
	AccountID ident.AccountID
	UserID    ident.UserID
	CallQuery
	ListOptions
}

// CallQuery is what a history search asks for (GET /v1/calls filters):
// each set field narrows the listing. Party keeps the calls a user placed
// or received; From and To bound StartedAt (From inclusive, To exclusive,
// compared in whole seconds).
type CallQuery struct {
	Party     ident.UserID
	Direction string
	EndReason string
	From, To  time.Time
}

// Accounts stores accounts.
type Accounts interface {
	CreateAccount(ctx context.Context, a *Account) error
	GetAccount(ctx context.Context, id ident.AccountID) (*Account, error)
	// ListAccounts returns every account, oldest first.
	ListAccounts(ctx context.Context) ([]Account, error)
}

// Users stores users.
type Users interface {
	// CreateUser fails with ErrConflict when the extension is taken within the
	// account or the SIP username is taken anywhere.
	CreateUser(ctx context.Context, u *User) error
	GetUser(ctx context.Context, id ident.UserID) (*User, error)
	GetUserByExtension(ctx context.Context, account ident.AccountID, ext string) (*User, error)
	GetUserBySIPUsername(ctx context.Context, username string) (*User, error)
	// ListUsers returns users oldest first and whether more follow.
	ListUsers(ctx context.Context, account ident.AccountID, opt ListOptions) ([]User, bool, error)
	UpdateUser(ctx context.Context, id ident.UserID, p UserPatch) (*User, error)
	// DeleteUser removes the user and un-routes their phone numbers.
	DeleteUser(ctx context.Context, id ident.UserID) error
	// BumpTokenGeneration increments and returns the user's token generation.
	BumpTokenGeneration(ctx context.Context, id ident.UserID) (int64, error)
}

// PhoneNumbers stores phone numbers.
type PhoneNumbers interface {
	// CreatePhoneNumber fails with ErrConflict when the number exists.
	CreatePhoneNumber(ctx context.Context, n *PhoneNumber) error
	GetPhoneNumber(ctx context.Context, id ident.PhoneNumberID) (*PhoneNumber, error)
	GetPhoneNumberByNumber(ctx context.Context, number string) (*PhoneNumber, error)
	ListPhoneNumbers(ctx context.Context, account ident.AccountID, opt ListOptions) ([]PhoneNumber, bool, error)
	UpdatePhoneNumber(ctx context.Context, id ident.PhoneNumberID, p PhoneNumberPatch) (*PhoneNumber, error)
	DeletePhoneNumber(ctx context.Context, id ident.PhoneNumberID) error
}

// Trunks stores runtime trunks.
type Trunks interface {
	// CreateTrunk fails with ErrConflict when the name is taken (any case).
	CreateTrunk(ctx context.Context, t *Trunk) error
	GetTrunk(ctx context.Context, id ident.TrunkID) (*Trunk, error)
	// ListTrunks returns trunks oldest first and whether more follow.
	ListTrunks(ctx context.Context, opt ListOptions) ([]Trunk, bool, error)
	// UpdateTrunk replaces the stored trunk with the same id (ErrConflict
	// when it takes another trunk's name).
	UpdateTrunk(ctx context.Context, t *Trunk) error
	DeleteTrunk(ctx context.Context, id ident.TrunkID) error
}

// DialPlans stores accounts' dial plans.
type DialPlans interface {
	// GetDialPlan returns DefaultDialPlan(account) when none is stored.
	GetDialPlan(ctx context.Context, account ident.AccountID) (*DialPlan, error)
	PutDialPlan(ctx context.Context, p *DialPlan) error
}

// FollowMes stores users' find-me/follow-me.
type FollowMes interface {
	// GetFollowMe returns ErrNotFound when the user has none.
	GetFollowMe(ctx context.Context, user ident.UserID) (*FollowMe, error)
	PutFollowMe(ctx context.Context, f *FollowMe) error
	DeleteFollowMe(ctx context.Context, user ident.UserID) error
}

// RingGroups stores ring groups.
type RingGroups interface {
	// CreateRingGroup fails with ErrConflict when the extension is taken
	// within the account (by a user or another group).
	CreateRingGroup(ctx context.Context, g *RingGroup) error
	GetRingGroup(ctx context.Context, id ident.RingGroupID) (*RingGroup, error)
	GetRingGroupByExtension(ctx context.Context, account ident.AccountID, ext string) (*RingGroup, error)
	ListRingGroups(ctx context.Context, account ident.AccountID, opt ListOptions) ([]RingGroup, bool, error)
	UpdateRingGroup(ctx context.Context, g *RingGroup) error
	DeleteRingGroup(ctx context.Context, id ident.RingGroupID) error
}

// Settings stores server-wide secrets and flags as key/value strings.
type Settings interface {
	// GetSetting returns ErrNotFound when the key is unset.
	GetSetting(ctx context.Context, key string) (string, error)
	SetSetting(ctx context.Context, key, value string) error
	// SetSettingIfAbsent stores value unless the key exists, and returns the
	// value now stored (so concurrent first starts agree on one secret).
	SetSettingIfAbsent(ctx context.Context, key, value string) (string, error)
	// GetSecret, SetSecret and SetSecretIfAbsent are the same for values
	// stored sealed with the master key. GetSecret fails when the stored
	// value does not open (another master key).
	GetSecret(ctx context.Context, key string) (string, error)
	SetSecret(ctx context.Context, key, value string) error
	SetSecretIfAbsent(ctx context.Context, key, value string) (string, error)
}

// CallRecords stores call records.
type CallRecords interface {
	CreateCallRecord(ctx context.Context, r *CallRecord) error
	// UpdateCallRecord replaces the stored record with the same id.
	UpdateCallRecord(ctx context.Context, r *CallRecord) error
	GetCallRecord(ctx context.Context, id ident.CallID) (*CallRecord, error)
	// ListCallRecords returns records newest first and whether more follow.
	ListCallRecords(ctx context.Context, f CallFilter) ([]CallRecord, bool, error)
	// CloseOpenCallRecords ends every record with no EndedAt (left by a
	// crash) with the given reason, and returns how many it closed. A
	// record ends when its call was last known alive: the last media seen,
	// else its last checkpoint (never before its answer); at is for records
	// never checkpointed (written before checkpoints existed).
	CloseOpenCallRecords(ctx context.Context, reason string, at time.Time) (int, error)
}

// NodeCallRecords scopes the closing of records left open to one node of
// a cluster sharing the store: a node that restarts closes its own, a
// surviving node those of a node that died; never another live node's.
type NodeCallRecords interface {
	// OpenCallRecordNodes lists the nodes (CallRecord.NodeID, "" among
	// them) that have open records.
	OpenCallRecordNodes(ctx context.Context) ([]string, error)
	// CloseNodeCallRecords is CloseOpenCallRecords for the open records of
	// node that started no later than at (a node that restarts under the
	// same id meanwhile keeps its new calls).
	CloseNodeCallRecords(ctx context.Context, node, reason string, at time.Time) (int, error)
}

// CallCheckpoint is what a live call saves of its record every few seconds.
type CallCheckpoint struct {
	At time.Time
	// LastMediaAt is when media was last seen on any leg; nil if never.
	LastMediaAt *time.Time
	Legs        []LegStats
}

// CallCheckpoints keeps open call records fresh, so a crash loses little.
type CallCheckpoints interface {
	// CheckpointCallRecord saves cp on the record with the given id if it
	// is still open (a no-op on a closed one): one cheap UPDATE.
	CheckpointCallRecord(ctx context.Context, id ident.CallID, cp CallCheckpoint) error
}

// EmergencyAddress is a civic address a user registered for emergency
// calls. RegisteredIP is the network (source address) it is bound to, or
// empty until a device session presents it.
type EmergencyAddress struct {
	ID        ident.EmergencyAddressID
	UserID    ident.UserID
	AccountID ident.AccountID
	emergency.Civic
	FormattedAddress string
	RegisteredIP     string
	CreatedAt        time.Time
}

// EmergencyAddresses stores users' emergency addresses. Every method is
// scoped to a user: another user's id is ErrNotFound.
type EmergencyAddresses interface {
	// CreateEmergencyAddress fails with ErrLimit when the user already has
	// max addresses.
	CreateEmergencyAddress(ctx context.Context, a *EmergencyAddress, max int) error
	GetEmergencyAddress(ctx context.Context, user ident.UserID, id ident.EmergencyAddressID) (*EmergencyAddress, error)
	// ListEmergencyAddresses returns the user's addresses, newest first.
	ListEmergencyAddresses(ctx context.Context, user ident.UserID) ([]EmergencyAddress, error)
	DeleteEmergencyAddress(ctx context.Context, user ident.UserID, id ident.EmergencyAddressID) error
	// ClearEmergencyAddressIP unbinds the address from its network.
	ClearEmergencyAddressIP(ctx context.Context, user ident.UserID, id ident.EmergencyAddressID) error
	// BindEmergencyAddress sets the address's network to ip when it has
	// none, and returns the address as it then is (bound to ip, or still
	// to another network).
	BindEmergencyAddress(ctx context.Context, user ident.UserID, id ident.EmergencyAddressID, ip string) (*EmergencyAddress, error)
}

// Store is everything the server persists.
type Store interface {
	Accounts
	Users
	PhoneNumbers
	Trunks
	DialPlans
	FollowMes
	RingGroups
	Settings
	CallRecords
	NodeCallRecords
	CallCheckpoints
	CallQualities
	EmergencyAddresses
	Close() error
}
