/**
 * vitest global setup of the integration project: starts every part of the test
 * environment once per run on free loopback ports, hands its addresses to the tests
 * (`inject('testEnv')`), and stops it all at the end. Processes are also stopped by a
 * watchdog if this run dies or is interrupted. A part that cannot start fails the run.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type {} from 'vitest';
import type { TestProject } from 'vitest/node';
import { removeWhenOwnerExits } from '../../dev/env/process.js';
import { exportsOf, PART_NAMES, startParts, stopEnvironment, type PartExports } from '../../dev/env/environment.js';

declare module 'vitest' {
  export interface ProvidedContext {
    testEnv: PartExports;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const dir = mkdtempSync(join(tmpdir(), 'chatcluster-test-'));
  removeWhenOwnerExits(process.pid, dir);
  const state = await startParts(PART_NAMES, dir, { ownerPid: process.pid });
  project.provide('testEnv', exportsOf(state));
  return () => stopEnvironment(state);
}
