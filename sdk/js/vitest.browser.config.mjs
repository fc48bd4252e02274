// Real-browser tests: headless Chromium (playwright-core, the system
// /usr/bin/chromium) against a real switchboard server built from this repo.
// Run with `npm run test:browser`. Files run one at a time: they share the
// demo users, and every connected device of a user rings.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/browser/**/*.test.mjs'],
    globalSetup: ['test/browser/global-setup.mjs'],
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 300_000,
    teardownTimeout: 60_000,
    // expect.poll waits 1 s by default; what these tests wait for crosses
    // processes (a server, Chromium, baresip) on a machine that may be busy.
    expect: { poll: { timeout: 10_000 } },
    reporters: ['default'],
  },
});
