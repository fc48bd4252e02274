// Code generated from internal/protocol by `go test ./internal/protocol -update`. DO NOT EDIT.

export const SUBPROTOCOL = "dialstack.webrtc.v1";

export type CallState = 'ringing' | 'active' | 'held';
export type Direction = 'inbound' | 'outbound';
export type EndReason = 'hangup' | 'busy' | 'no-answer' | 'failed' | 'transferred' | 'rejected' | 'answered-elsewhere' | 'server-shutdown' | 'merged';
export type ErrorCode = 'auth_failed' | 'auth_expired' | 'session_revoked' | 'session_replaced' | 'session_limit' | 'idle_timeout' | 'slow_consumer' | 'going_away' | 'invalid_message' | 'call_failed' | 'call_not_found' | 'rate_limited' | 'presence_unavailable' | 'internal_error' | 'emergency_address_required' | 'park_full' | 'recording_not_allowed' | 'conference_full';
export type HeldBy = 'local' | 'remote';
export type PresenceStatus = 'available' | 'on_call' | 'offline';
export type RecordAction = 'start' | 'pause' | 'resume' | 'stop';
export type RecordingState = 'recording' | 'paused' | 'stopped';
export type RejectReason = 'decline' | 'busy';
export type TransferStep = 'consult' | 'complete';

export interface PresenceEntry {
  user_id: string;
  name: string;
  status: PresenceStatus;
  do_not_disturb: boolean;
  status_text?: string;
  updated_at: string;
}

export interface ConferenceParticipant {
  participant_id: string;
  name?: string;
  number?: string;
  host: boolean;
  muted: boolean;
  held: boolean;
}

export interface RecordingInfo {
  recording_id: string;
  state: RecordingState;
}

export interface AuthRefresh {
  type: 'auth.refresh';
  req_id?: string;
  token: string;
}

export interface Authenticate {
  type: 'authenticate';
  req_id?: string;
  token: string;
  session_id?: string;
  emergency_address_id?: string;
  features?: string[];
}

export interface CallAdd {
  type: 'call.add';
  req_id?: string;
  call_id: string;
  destination: string;
}

export interface CallAnswer {
  type: 'call.answer';
  call_id: string;
}

export interface CallCreate {
  type: 'call.create';
  req_id?: string;
  destination: string;
  sdp: string;
  caller_id?: string;
}

export interface CallHangup {
  type: 'call.hangup';
  call_id: string;
}

export interface CallHold {
  type: 'call.hold';
  call_id: string;
}

export interface CallMerge {
  type: 'call.merge';
  req_id?: string;
  call_id: string;
  with_call_id: string;
}

export interface CallMute {
  type: 'call.mute';
  call_id: string;
}

export interface CallPark {
  type: 'call.park';
  req_id?: string;
  call_id: string;
}

export interface CallParticipantMute {
  type: 'call.participant.mute';
  req_id?: string;
  call_id: string;
  participant_id: string;
  muted: boolean;
}

export interface CallParticipantRemove {
  type: 'call.participant.remove';
  req_id?: string;
  call_id: string;
  participant_id: string;
}

export interface CallRecord {
  type: 'call.record';
  req_id?: string;
  call_id: string;
  action: RecordAction;
}

export interface CallReject {
  type: 'call.reject';
  call_id: string;
  reason?: RejectReason;
}

export interface CallResume {
  type: 'call.resume';
  call_id: string;
}

export interface CallTransfer {
  type: 'call.transfer';
  call_id: string;
  destination: string;
}

export interface CallTransferAttended {
  type: 'call.transfer.attended';
  req_id?: string;
  call_id: string;
  step: TransferStep;
  destination?: string;
  sdp?: string;
}

export interface CallUnmute {
  type: 'call.unmute';
  call_id: string;
}

export interface ICECandidate {
  type: 'ice.candidate';
  call_id: string;
  candidate: string;
  sdp_mid: string;
  sdp_m_line_index: number;
}

export interface ICEDone {
  type: 'ice.done';
  call_id: string;
}

export interface Ping {
  type: 'ping';
  req_id?: string;
}

export interface PresenceSubscribe {
  type: 'presence.subscribe';
  req_id?: string;
  users: string[];
}

export interface SDPAnswer {
  type: 'sdp.answer';
  call_id: string;
  sdp: string;
}

export interface SDPOffer {
  type: 'sdp.offer';
  call_id: string;
  sdp: string;
}

export interface AuthRefreshed {
  type: 'auth.refreshed';
  req_id?: string;
}

export interface Authenticated {
  type: 'authenticated';
  req_id?: string;
  user_id: string;
  account_id: string;
  session_id: string;
  reconnected: boolean;
}

export interface CallAnswered {
  type: 'call.answered';
  call_id: string;
  answered_at: string;
}

export interface CallEnded {
  type: 'call.ended';
  call_id: string;
  reason: EndReason;
  duration_seconds: number | null;
}

export interface CallHeld {
  type: 'call.held';
  call_id: string;
  held_by: HeldBy;
}

export interface CallIncoming {
  type: 'call.incoming';
  call_id: string;
  from: string;
  from_name: string;
  to: string;
}

export interface CallParked {
  type: 'call.parked';
  req_id?: string;
  call_id: string;
  slot: string;
}

export interface CallQuality {
  type: 'call.quality';
  call_id: string;
  mos: number;
  loss: number;
  jitter: number;
  rtt: number | null;
}

export interface CallRecording {
  type: 'call.recording';
  req_id?: string;
  call_id: string;
  recording_id: string;
  state: RecordingState;
}

export interface CallRestored {
  type: 'call.restored';
  call_id: string;
  state: CallState;
  from: string;
  from_name: string;
  to: string;
  direction: Direction;
  answered_at: string | null;
  held_by?: HeldBy;
  muted: boolean;
  recording?: RecordingInfo | null;
}

export interface CallResumed {
  type: 'call.resumed';
  call_id: string;
}

export interface CallRinging {
  type: 'call.ringing';
  call_id: string;
}

export interface CallTrying {
  type: 'call.trying';
  call_id: string;
  req_id?: string;
}

export interface ConferenceUpdated {
  type: 'conference.updated';
  req_id?: string;
  call_id: string;
  participants: ConferenceParticipant[];
}

export interface Error {
  type: 'error';
  code: ErrorCode;
  message: string;
  req_id?: string;
  call_id?: string;
  fatal?: boolean;
  context?: Record<string, unknown>;
}

export interface NetworkChanged {
  type: 'network.changed';
}

export interface Pong {
  type: 'pong';
  req_id?: string;
}

export interface PresenceList {
  type: 'presence.list';
  req_id?: string;
  users: PresenceEntry[];
}

export interface PresenceUpdate {
  type: 'presence.update';
  user_id: string;
  name: string;
  status: PresenceStatus;
  do_not_disturb: boolean;
  status_text?: string;
  updated_at: string;
}

export interface SDPPranswer {
  type: 'sdp.pranswer';
  call_id: string;
  sdp: string;
}

export type ClientMessage = AuthRefresh | Authenticate | CallAdd | CallAnswer | CallCreate | CallHangup | CallHold | CallMerge | CallMute | CallPark | CallParticipantMute | CallParticipantRemove | CallRecord | CallReject | CallResume | CallTransfer | CallTransferAttended | CallUnmute | ICECandidate | ICEDone | Ping | PresenceSubscribe | SDPAnswer | SDPOffer;

export type ServerMessage = AuthRefreshed | Authenticated | CallAnswered | CallEnded | CallHeld | CallIncoming | CallParked | CallQuality | CallRecording | CallRestored | CallResumed | CallRinging | CallTrying | ConferenceUpdated | Error | ICECandidate | ICEDone | NetworkChanged | Pong | PresenceList | PresenceUpdate | SDPAnswer | SDPOffer | SDPPranswer;
