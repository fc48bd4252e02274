// The snippets the browser tests run must be the guide's own text.
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SNIPPETS } from './guide-snippets.mjs';

const guidePath = process.env.SWITCHBOARD_GUIDE ?? '/work/shared/seed/calling-and-call-control.txt';
const collapse = (s) => s.replace(/\s+/g, ' ').trim();

describe('calling guide snippets', () => {
  it.skipIf(!existsSync(guidePath))('are verbatim copies of the guide (whitespace aside)', () => {
    const guide = collapse(readFileSync(guidePath, 'utf8'));
    for (const [name, text] of Object.entries(SNIPPETS)) {
      expect(guide.includes(collapse(text)), name).toBe(true);
    }
  });

  it('are valid async JavaScript', () => {
    const AsyncFunction = (async () => {}).constructor;
    for (const [name, text] of Object.entries(SNIPPETS)) {
      expect(() => new AsyncFunction(text), name).not.toThrow();
    }
  });
});
