import { describe, expect, it } from 'vitest';
import type { CallQuality } from '../../src/index.js';
import { connect, dial, setup } from './fakes.js';

describe('call quality', () => {
  it('asks for call.quality when it authenticates', async () => {
    const env = setup();
    await connect(env);
    expect(env.ws.last('authenticate').features).toEqual(['quality', 'recording']);
  });

  it("emits 'quality' with the call's own figures, rtt null when unknown, and none after the end", async () => {
    const env = setup();
    await connect(env);
    const call = await dial(env, '105', 'call_1');
    const other = await dial(env, '106', 'call_2');
    const got: CallQuality[] = [];
    call.on('quality', (q) => got.push(q));
    other.on('quality', () => got.push({ mos: -1, loss: 0, jitter: 0, rtt: null }));
    expect(call.quality).toBeUndefined();

    env.ws.receive({ type: 'call.quality', call_id: 'call_1', mos: 4.3, loss: 0.2, jitter: 3, rtt: null });
    env.ws.receive({ type: 'call.quality', call_id: 'call_1', mos: 3.1, loss: 6, jitter: 28, rtt: 40 });
    expect(got).toEqual([
      { mos: 4.3, loss: 0.2, jitter: 3, rtt: null },
      { mos: 3.1, loss: 6, jitter: 28, rtt: 40 },
    ]);
    expect(call.quality).toEqual({ mos: 3.1, loss: 6, jitter: 28, rtt: 40 });

    // A server that omits rtt: null.
    env.ws.receive({ type: 'call.quality', call_id: 'call_1', mos: 4.4, loss: 0, jitter: 1 } as never);
    expect(got[2]).toEqual({ mos: 4.4, loss: 0, jitter: 1, rtt: null });

    env.ws.receive({ type: 'call.ended', call_id: 'call_1', reason: 'hangup', duration_seconds: 10 });
    env.ws.receive({ type: 'call.quality', call_id: 'call_1', mos: 1, loss: 50, jitter: 90, rtt: null });
    expect(got).toHaveLength(3);
    // A frame for an unknown call is ignored.
    env.ws.receive({ type: 'call.quality', call_id: 'call_nope', mos: 1, loss: 50, jitter: 90, rtt: null });
    expect(got).toHaveLength(3);
  });
});
