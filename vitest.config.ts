import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Shared CI machines are noisy: a generous per-test limit; speed is measured by `npm run bench`.
    testTimeout: 30_000,
    include: ['sync.test.ts', 'test/**/*.test.ts'],
  },
});
