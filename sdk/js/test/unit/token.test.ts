import { describe, expect, it } from 'vitest';
import { jwtExpiry } from '../../src/token.js';
import { makeToken } from './fakes.js';

describe('jwtExpiry', () => {
  it('reads exp from a base64url payload without verifying', () => {
    expect(jwtExpiry(makeToken(1_900_000_000))).toBe(1_900_000_000);
  });

  it('handles base64url characters and missing padding', () => {
    // payload with '-' and '_' once encoded
    const payload = btoa(JSON.stringify({ sub: 'user_??>>', exp: 1234567890, n: '~~~' }))
      .replace(/\+/g, '-')
      .replace(/\//g, '_')
      .replace(/=+$/, '');
    expect(jwtExpiry(`h.${payload}.s`)).toBe(1234567890);
  });

  it.each(['', 'opaque', 'a.b.c', 'a.e30.c', `a.${btoa('{"exp":"soon"}')}.c`, 'a.!!!.c'])('is undefined for %j', (t) => {
    expect(jwtExpiry(t)).toBeUndefined();
  });
});
