import type { Error as ErrorFrame, ErrorCode } from './protocol.gen.js';

/**
 * Codes the SDK raises itself, for failures that never got a server answer.
 *
 * - `not_connected`: the phone has no authenticated socket (or lost it while a
 *   request was waiting).
 * - `connection_failed`: the socket could not be opened or closed before
 *   `authenticated`.
 * - `timeout`: no answer in time (authentication, or `call.trying` after 30 s).
 * - `media_denied`: the microphone was refused or is unavailable.
 * - `webrtc_failed`: the browser's WebRTC stack failed (offer, answer, SDP).
 * - `invalid_state`: the call cannot do that now (e.g. DTMF before media).
 * - `invalid_argument`: a bad option or argument.
 * - `token_refresh_failed`: `onTokenExpiring` threw or returned no token.
 */
export type ClientErrorCode =
  | 'not_connected'
  | 'connection_failed'
  | 'timeout'
  | 'media_denied'
  | 'webrtc_failed'
  | 'invalid_state'
  | 'invalid_argument'
  | 'token_refresh_failed';

/** Every code a {@link PhoneError} can carry: the protocol's plus the SDK's own. */
export type PhoneErrorCode = ErrorCode | ClientErrorCode;

/** Optional details of a {@link PhoneError}. */
export interface PhoneErrorInit {
  /** The call the error is about. */
  callId?: string;
  /** True when the connection is closed because of it. */
  fatal?: boolean;
  /** The `req_id` of the request it answers. */
  reqId?: string;
  /** Extra data from the server (e.g. `users` for `presence_unavailable`). */
  context?: Record<string, unknown>;
  /** The underlying error. */
  cause?: unknown;
}

/**
 * The one error type of the SDK: server `error` frames and local failures
 * alike. Rejected promises and `error` events carry it.
 */
export class PhoneError extends Error {
  /** Machine-readable code: a protocol error code or a {@link ClientErrorCode}. */
  readonly code: PhoneErrorCode;
  /** The call the error is about, when there is one. */
  readonly callId?: string;
  /** True when the server closes the connection because of this error. */
  readonly fatal: boolean;
  /** The `req_id` of the request this error answers, when there is one. */
  readonly reqId?: string;
  /** Extra data the server attached (`context`), e.g. `{ users: [...] }`. */
  readonly context?: Record<string, unknown>;

  /**
   * @param code - protocol or client error code
   * @param message - human-readable text
   * @param init - optional call id, fatal flag, req_id, context and cause
   */
  constructor(code: PhoneErrorCode, message: string, init: PhoneErrorInit = {}) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'PhoneError';
    this.code = code;
    this.fatal = init.fatal ?? false;
    if (init.callId) this.callId = init.callId;
    if (init.reqId) this.reqId = init.reqId;
    if (init.context) this.context = init.context;
  }

  /** @internal Builds the error a server `error` frame describes. */
  static fromFrame(m: ErrorFrame): PhoneError {
    return new PhoneError(m.code, m.message, {
      callId: m.call_id,
      fatal: m.fatal,
      reqId: m.req_id,
      context: m.context,
    });
  }
}
