import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { lacksSysResource } from '../../dev/env/docker/capabilities.js';

const WRAPPER = fileURLToPath(new URL('../../dev/env/docker/runc-drop-sys-resource.sh', import.meta.url));

const scratch: string[] = [];
function scratchDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'docker-unit-'));
  scratch.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of scratch.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('whether the host lacks CAP_SYS_RESOURCE', () => {
  it('is false for a full bounding set', () => {
    expect(lacksSysResource('Name:\tnode\nCapBnd:\t000001ffffffffff\n')).toBe(false);
  });

  it('is true when bit 24 is cleared, whatever else is set', () => {
    expect(lacksSysResource('CapBnd:\t000001fffeffffff\n')).toBe(true);
    expect(lacksSysResource('CapBnd:\t0000000000000000\n')).toBe(true);
  });

  it('refuses text without a CapBnd line', () => {
    expect(() => lacksSysResource('Name:\tnode\n')).toThrow(/CapBnd/);
  });
});

describe('the runc wrapper', () => {
  const all = ['CAP_CHOWN', 'CAP_SYS_RESOURCE', 'CAP_SYS_ADMIN'];
  const processSpec = { args: ['sh'], capabilities: { bounding: all, effective: all, permitted: all, ambient: all } };
  const kept = { bounding: ['CAP_CHOWN', 'CAP_SYS_ADMIN'], effective: ['CAP_CHOWN', 'CAP_SYS_ADMIN'] };

  /** Runs the wrapper with `echo` standing in as the real runc, so its hand-over shows. */
  function wrapper(args: string[]): string {
    return execFileSync(WRAPPER, ['echo', ...args], { encoding: 'utf8' });
  }

  it('drops CAP_SYS_RESOURCE from a bundle\'s process on create, keeping the rest, and hands runc its arguments', () => {
    const bundle = scratchDir();
    writeFileSync(join(bundle, 'config.json'), JSON.stringify({ ociVersion: '1.0.2', process: processSpec }));
    const handedOver = wrapper(['--root', '/run/runc', 'create', '--bundle', bundle, 'ctr1']);
    expect(handedOver.trim()).toBe(`--root /run/runc create --bundle ${bundle} ctr1`);
    const config = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')) as { ociVersion: string; process: typeof processSpec };
    expect(config.ociVersion).toBe('1.0.2');
    expect(config.process.capabilities).toMatchObject(kept);
    expect(config.process.capabilities.ambient).not.toContain('CAP_SYS_RESOURCE');
  });

  it('drops it from the process file of exec (-p and --process=)', () => {
    const dir = scratchDir();
    const short = join(dir, 'short.json');
    const long = join(dir, 'long.json');
    writeFileSync(short, JSON.stringify(processSpec));
    writeFileSync(long, JSON.stringify(processSpec));
    wrapper(['exec', '-p', short, 'ctr1']);
    wrapper(['exec', `--process=${long}`, 'ctr1']);
    for (const file of [short, long]) {
      expect((JSON.parse(readFileSync(file, 'utf8')) as typeof processSpec).capabilities).toMatchObject(kept);
    }
  });

  it('leaves commands without a process spec alone', () => {
    const bundle = join(scratchDir(), 'no-config');
    mkdirSync(bundle);
    expect(wrapper(['state', 'ctr1']).trim()).toBe('state ctr1');
    expect(wrapper(['delete', '--bundle', bundle, 'ctr1']).trim()).toBe(`delete --bundle ${bundle} ctr1`);
  });
});
