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
    rmSync(staging, { recursive: true, force: true });
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
