import { afterEach, describe, expect, it, vi } from 'vitest';
import { Emitter } from '../../src/index.js';

interface Events {
  a: [n: number];
  b: [];
}

class Thing extends Emitter<Events> {
  fire<K extends keyof Events>(e: K, ...args: Events[K]): void {
    this.emit(e, ...args);
  }
}

afterEach(() => {
  vi.useRealTimers();
});

describe('Emitter', () => {
  it('calls listeners in order with their arguments', () => {
    const t = new Thing();
    const got: string[] = [];
    t.on('a', (n) => got.push(`1:${n}`)).on('a', (n) => got.push(`2:${n}`));
    t.fire('a', 7);
    t.fire('b');
    expect(got).toEqual(['1:7', '2:7']);
  });

  it('off removes one listener, or all of an event', () => {
    const t = new Thing();
    const f = vi.fn();
    const g = vi.fn();
    t.on('a', f).on('a', g);
    t.off('a', f);
    t.fire('a', 1);
    expect(f).not.toHaveBeenCalled();
    expect(g).toHaveBeenCalledTimes(1);
    t.off('a');
    t.fire('a', 2);
    expect(g).toHaveBeenCalledTimes(1);
    t.off('b'); // nothing registered: fine
  });

  it('once fires once and can be removed with off', () => {
    const t = new Thing();
    const f = vi.fn();
    t.once('a', f);
    t.fire('a', 1);
    t.fire('a', 2);
    expect(f).toHaveBeenCalledTimes(1);
    const g = vi.fn();
    t.once('b', g);
    t.off('b', g);
    t.fire('b');
    expect(g).not.toHaveBeenCalled();
  });

  it('a throwing listener does not stop the others; its error is rethrown later', () => {
    vi.useFakeTimers();
    const t = new Thing();
    const after = vi.fn();
    t.on('b', () => {
      throw new Error('app bug');
    });
    t.on('b', after);
    t.fire('b');
    expect(after).toHaveBeenCalled();
    expect(() => vi.runAllTimers()).toThrow('app bug');
  });

  it('removing a listener while emitting does not skip others', () => {
    const t = new Thing();
    const got: number[] = [];
    const first = (): void => {
      got.push(1);
      t.off('b', first);
    };
    t.on('b', first).on('b', () => got.push(2));
    t.fire('b');
    t.fire('b');
    expect(got).toEqual([1, 2, 2]);
  });
});
