import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { testEnvironment } from '../support/env.js';
import { versions } from '../../dev/env/versions.js';

const exec = promisify(execFile);

describe('the test environment’s command-line tools', () => {
  const env = testEnvironment();
  const run = (command: string, args: string[]) => exec(command, args, { env: env.processEnv, timeout: 30_000 });

  it('puts a kubectl 1.35 on PATH that talks to the test control plane', async () => {
    const version = JSON.parse((await run('kubectl', ['version', '-o', 'json'])).stdout) as {
      clientVersion: { gitVersion: string };
      serverVersion: { gitVersion: string };
    };
    expect(version.clientVersion.gitVersion).toMatch(/^v1\.35\.\d+$/);
    expect(version.serverVersion.gitVersion).toBe(version.clientVersion.gitVersion);
    const nodes = (await run('kubectl', ['get', 'nodes', '-o', 'name'])).stdout.trim().split('\n');
    expect(nodes).toEqual(['node/kwok-node-0', 'node/kwok-node-1', 'node/kwok-node-2']);
  });

  it('puts helm on PATH that answers and reaches the cluster', async () => {
    const version = (await run('helm', ['version', '--short'])).stdout.trim();
    expect(version).toBe(`v${versions.helm}`);
    // helm exits non-zero when it cannot reach the API server.
    const releases: unknown = JSON.parse((await run('helm', ['list', '--all-namespaces', '-o', 'json'])).stdout);
    expect(Array.isArray(releases)).toBe(true);
  });
});
