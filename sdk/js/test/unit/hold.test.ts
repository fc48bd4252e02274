import { describe, expect, it } from 'vitest';
import { heldBy, holdState, mayResume, NO_HOLD, type Hold, type HoldEvent } from '../../src/hold.js';

const h = (o: Partial<Hold> = {}): Hold => ({ ...NO_HOLD, ...o });
const HOLD: HoldEvent = { type: 'hold' };
const RESUME: HoldEvent = { type: 'resume' };
const LOCAL: HoldEvent = { type: 'held', by: 'local' };
const REMOTE: HoldEvent = { type: 'held', by: 'remote' };
const RESUMED: HoldEvent = { type: 'resumed' };
const CONSULT_OVER: HoldEvent = { type: 'consultOver' };

describe('holdState', () => {
  it.each<[string, Hold, HoldEvent, Hold]>([
    ['hold() asks', h(), HOLD, h({ holding: true })],
    ['held(local) answers the ask', h({ holding: true }), LOCAL, h({ local: true })],
    ['held(local) without an ask (attended transfer)', h(), LOCAL, h({ local: true })],
    ['held(remote) leaves our ask in flight', h({ holding: true }), REMOTE, h({ remote: true, holding: true })],
    ['both sides hold', h({ local: true }), REMOTE, h({ local: true, remote: true })],
    ['resume() asks', h({ local: true }), RESUME, h({ local: true, resuming: true })],
    ['resumed: only we hold', h({ local: true }), RESUMED, h()],
    ['resumed: only they hold', h({ remote: true }), RESUMED, h()],
    ['resumed: both hold, we asked: ours ends', h({ local: true, remote: true, resuming: true }), RESUMED, h({ remote: true })],
    ['resumed: both hold, we did not ask: theirs ends', h({ local: true, remote: true }), RESUMED, h({ local: true })],
    ['resumed: both hold, server auto-resumes: ours ends', h({ local: true, remote: true, auto: true }), RESUMED, h({ remote: true })],
    ['resumed: a hold still asked stays asked', h({ local: true, holding: true }), RESUMED, h({ holding: true })],
    ['consult over while we hold: auto-resume', h({ local: true }), CONSULT_OVER, h({ local: true, auto: true })],
    ['consult over while we do not hold: nothing', h({ remote: true }), CONSULT_OVER, h({ remote: true })],
    ['restored held by them', h({ local: true, auto: true }), { type: 'restored', state: 'held', by: 'remote' }, h({ remote: true })],
    ['restored held by us', h({ remote: true }), { type: 'restored', state: 'held', by: 'local' }, h({ local: true })],
    ['restored held, nobody named: unchanged', h({ local: true, auto: true }), { type: 'restored', state: 'held' }, h({ local: true, auto: true })],
    ['restored active clears both holds', h({ local: true, remote: true, auto: true }), { type: 'restored', state: 'active' }, h()],
    ['restored keeps asks in flight', h({ holding: true, resuming: true }), { type: 'restored', state: 'active' }, h({ holding: true, resuming: true })],
    ['ended resets everything', h({ local: true, remote: true, holding: true, resuming: true, auto: true }), { type: 'ended' }, NO_HOLD],
  ])('%s', (_, prev, ev, next) => {
    const before = { ...prev };
    expect(holdState(prev, ev)).toEqual(next);
    expect(prev).toEqual(before); // pure
  });

  it.each<[string, HoldEvent[], Hold]>([
    ['hold, resume before held, held, resumed', [HOLD, RESUME, LOCAL, RESUMED], h()],
    ['held both, resume, resumed, resumed', [LOCAL, REMOTE, RESUME, RESUMED, RESUMED], h()],
    ['consult cancelled while they hold: our hold ends first', [LOCAL, REMOTE, CONSULT_OVER, RESUMED], h({ remote: true })],
    ['auto-resume ends with our hold', [LOCAL, CONSULT_OVER, RESUMED, HOLD], h({ holding: true })],
  ])('sequence: %s', (_, events, end) => {
    expect(events.reduce(holdState, NO_HOLD)).toEqual(end);
  });
});

describe('heldBy', () => {
  it.each<[Hold, ReturnType<typeof heldBy>]>([
    [h(), null],
    [h({ holding: true }), null],
    [h({ local: true }), 'local'],
    [h({ remote: true }), 'remote'],
    [h({ local: true, remote: true }), 'local'],
  ])('%j → %s', (hold, by) => {
    expect(heldBy(hold)).toBe(by);
  });
});

describe('mayResume', () => {
  it.each<[Hold, boolean]>([
    [h(), false],
    [h({ remote: true }), false],
    [h({ holding: true }), true],
    [h({ local: true }), true],
    [h({ local: true, resuming: true }), true],
    [h({ local: true, auto: true }), false],
    [h({ resuming: true }), false],
  ])('%j → %s', (hold, ok) => {
    expect(mayResume(hold)).toBe(ok);
  });
});
