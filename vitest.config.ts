import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'node',
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 30_000,
    reporters: ['default'],
    // Every line a test writes is scanned for the test secret's values (test/support/test-secret.ts).
    setupFiles: ['test/support/secret-scan-setup.ts'],
    globalSetup: ['test/support/secret-scan-global.ts'],
  },
});
