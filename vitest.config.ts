import { defineConfig } from 'vitest/config';

/**
 * Three projects: `unit` (pure logic, next to the code or in test/unit, no servers),
 * `integration` (everything else under test/, against the real servers the global setup
 * starts) and `e2e` (test/e2e, the product on a kind cluster). `npm test` runs them all.
 */
export default defineConfig({
  test: {
    reporters: ['default', './test/reporters/closing-line.ts'],
    projects: [
      {
        test: {
          name: 'unit',
          include: ['common/**/*.test.ts', 'node/**/*.test.ts', 'operator/**/*.test.ts', 'web/**/*.test.ts', 'test/unit/**/*.test.ts'],
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/**/*.test.ts'],
          exclude: ['test/unit/**', 'test/e2e/**'],
          globalSetup: ['./test/env/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
        },
      },
      {
        // The whole product on a kind cluster (Docker); its global setup makes the cluster.
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          globalSetup: ['./test/e2e/global-setup.ts'],
          testTimeout: 1_500_000,
          // A cold run builds the kind node image and the project's images first.
          hookTimeout: 3_600_000,
        },
      },
    ],
  },
});
