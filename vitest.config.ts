import { defineConfig } from 'vitest/config';

/**
 * Two projects: `unit` (pure logic, next to the code or in test/unit, no servers) and
 * `integration` (everything else under test/, against the real servers the global setup
 * starts). `npm test` runs both.
 */
export default defineConfig({
  test: {
    reporters: ['default', './test/reporters/closing-line.ts'],
    projects: [
      {
        test: {
          name: 'unit',
          include: ['common/**/*.test.ts', 'node/**/*.test.ts', 'operator/**/*.test.ts', 'test/unit/**/*.test.ts'],
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/**/*.test.ts'],
          exclude: ['test/unit/**'],
          globalSetup: ['./test/env/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
