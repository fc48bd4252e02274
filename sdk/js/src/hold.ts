import type { CallState, HeldBy } from './call.js';

/**
 * Who holds a call, and which hold requests are in flight. One value,
 * replaced by {@link holdState} on every event; the call's `state` says
 * whether it is `held`, this says by whom and what comes next.
 *
 * ```
 *  hold() ──▶ holding ──held(local)──▶ local ──resume()──▶ resuming ──resumed──▶ (none)
 *                      held(remote)──▶ remote ─────────────────────resumed──▶ (none)
 *  consult call over while local ──▶ auto (the server resumes by itself)
 * ```
 * @internal
 */
export interface Hold {
  /** This device holds the call (the server confirmed `held_by: local`). */
  readonly local: boolean;
  /** The other party holds the call. */
  readonly remote: boolean;
  /** `hold()` was sent and its `call.held` has not come yet. */
  readonly holding: boolean;
  /** `resume()` was sent and its `call.resumed` has not come yet. */
  readonly resuming: boolean;
  /** The server resumes the call by itself: its consult call was cancelled or failed. */
  readonly auto: boolean;
}

/** What changes a call's {@link Hold}. @internal */
export type HoldEvent =
  | { type: 'hold' }
  | { type: 'resume' }
  | { type: 'held'; by: HeldBy }
  | { type: 'resumed' }
  | { type: 'consultOver' }
  | { type: 'restored'; state: CallState; by?: HeldBy | null }
  | { type: 'ended' };

/** Nobody holds the call and nothing is asked. @internal */
export const NO_HOLD: Hold = { local: false, remote: false, holding: false, resuming: false, auto: false };

/** The hold after `ev`. Pure: `prev` is not changed. @internal */
export function holdState(prev: Hold, ev: HoldEvent): Hold {
  const h = { ...prev };
  switch (ev.type) {
    case 'hold':
      h.holding = true;
      break;
    case 'resume':
      h.resuming = true;
      break;
    case 'held':
      if (ev.by === 'local') {
        h.local = true;
        h.holding = false;
      } else h.remote = true;
      break;
    case 'resumed':
      // call.resumed does not say whose hold ended: ours if we asked, if the
      // server resumes it after a consult call (or if only we hold).
      if (h.local && (h.resuming || h.auto || !h.remote)) h.local = false;
      else h.remote = false;
      h.resuming = false;
      break;
    case 'consultOver':
      if (h.local) h.auto = true;
      break;
    case 'restored':
      if (ev.state === 'held' && ev.by) {
        h.local = ev.by === 'local';
        h.remote = ev.by === 'remote';
      } else if (ev.state !== 'held') {
        h.local = h.remote = false;
      }
      break;
    case 'ended':
      return NO_HOLD;
  }
  if (!h.local) h.auto = false;
  return h;
}

/** Who holds the call (`local` wins when both do), or null. @internal */
export function heldBy(h: Hold): HeldBy | null {
  return h.local ? 'local' : h.remote ? 'remote' : null;
}

/**
 * Whether `resume()` should send `call.resume`: not while the server resumes
 * by itself, and only when this device holds the call or asked to.
 * @internal
 */
export function mayResume(h: Hold): boolean {
  return !h.auto && (h.local || h.holding);
}
