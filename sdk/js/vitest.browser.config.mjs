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
    reporters: ['default'],
  },
});
