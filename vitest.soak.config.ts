import { defineConfig } from 'vitest/config';

// `npm run soak`: the full-length fault and load scenarios (test/soak/*.soak.ts), one file at a time.
export default defineConfig({
  test: {
    include: ['test/soak/**/*.soak.ts'],
    testTimeout: 1_800_000,
    hookTimeout: 120_000,
    pool: 'forks',
    fileParallelism: false,
  },
});
