/**
 * `@switchboard/phone`: the browser SDK of Switchboard. Place, receive and
 * control calls over WebRTC with one signalling connection.
 *
 * @packageDocumentation
 */
export { Phone } from './phone.js';
export type { PhoneOptions, PhoneEvents, CallOptions, PresenceEvent } from './phone.js';
export { Call } from './call.js';
export type { CallEvents, CallQuality, ConferenceParticipant, RecordAction, RecordingState, CallState, CallDirection, CallSummary, EndReason, HeldBy, RejectReason } from './call.js';
export { PhoneError } from './errors.js';
export type { ClientErrorCode, PhoneErrorCode, PhoneErrorInit } from './errors.js';
export { Emitter } from './emitter.js';
export type { Listener } from './emitter.js';
export type { Sound } from './media.js';
export { SUBPROTOCOL } from './protocol.gen.js';
export type { ErrorCode, PresenceEntry, PresenceList, PresenceUpdate, PresenceStatus } from './protocol.gen.js';
export type * as protocol from './protocol.gen.js';
