import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync, renameSync } from 'node:fs';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isAlive } from './process.js';
import { say } from './progress.js';

const COMPLETE_MARK = '.complete';

/**
 * Makes `dir` once: builds it into a staging folder under a lock (so two runs never
 * build the same thing at once) and moves it into place only when `build` succeeded.
 * Later calls return at once. A failed or interrupted build leaves no half-made cache.
 */
export async function cached(dir: string, build: (stagingDir: string) => Promise<void>): Promise<string> {
  if (isComplete(dir)) return dir;
  mkdirSync(dirname(dir), { recursive: true });
  const release = await lock(`${dir}.lock`);
  try {
    if (isComplete(dir)) return dir;
    const staging = `${dir}.partial`;
    clearStaging(staging);
    mkdirSync(staging, { recursive: true });
    await build(staging);
    writeFileSync(`${staging}/${COMPLETE_MARK}`, new Date().toISOString());
    rmSync(dir, { recursive: true, force: true });
    renameSync(staging, dir);
    return dir;
  } finally {
    release();
  }
}

/**
 * Removes what an interrupted build left in `staging`, unmounting first whatever it left
 * mounted there (a Debian root filesystem build mounts /proc inside its tree, debootstrap
 * and then the updates applied in a chroot; a build killed part-way leaves it mounted, and
 * removing the tree then fails with EBUSY).
 */
export function clearStaging(staging: string): void {
  for (const target of mountsUnder(staging)) execFileSync('umount', ['--lazy', target]);
  rmSync(staging, { recursive: true, force: true });
}

/** Mount points at or under `dir`, deepest first; none where /proc/mounts cannot be read. */
function mountsUnder(dir: string): string[] {
  let table: string;
  try {
    table = readFileSync('/proc/mounts', 'utf8');
  } catch {
    return [];
  }
  // The mount point is the second field, with spaces and other bytes written as octal escapes.
  const points = table.split('\n').map((line) => (line.split(' ')[1] ?? '').replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8))));
  return points.filter((point) => point === dir || point.startsWith(`${dir}/`)).sort((a, b) => b.length - a.length);
}

function isComplete(dir: string): boolean {
  return existsSync(`${dir}/${COMPLETE_MARK}`);
}

/** An exclusive lock held by a live process; a lock left by a dead one is taken over. Resolves with its release. */
export async function lock(path: string): Promise<() => void> {
  let told = false;
  for (;;) {
    try {
      mkdirSync(path);
      writeFileSync(`${path}/pid`, String(process.pid));
      return () => {
        rmSync(path, { recursive: true, force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = Number(readFileOrEmpty(`${path}/pid`));
    if (holder > 0 && !isAlive(holder)) {
      rmSync(path, { recursive: true, force: true });
      continue;
    }
    if (!told) {
      say(`waiting for another run (pid ${holder || '?'}) that is building ${path.replace(/\.lock$/, '')}`);
      told = true;
    }
    await sleep(1000);
  }
}

function readFileOrEmpty(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}
