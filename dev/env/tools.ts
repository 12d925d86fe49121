import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { EnvError } from './errors.js';
import { run } from './process.js';
import { slowStep } from './progress.js';

/** The full path of `name` on PATH, or undefined. */
export function findCommand(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this folder
    }
  }
  return undefined;
}

/** The full path of `name`, or an error that says how to get it. */
export function requireCommand(name: string, remedy: string): string {
  const path = findCommand(name);
  if (path === undefined) throw new EnvError(`${name} is not installed (not found on PATH)`, remedy);
  return path;
}

let aptListsFresh = false;
/** apt-get holds the dpkg lock and fails at once if another apt-get has it: parts install one at a time. */
let aptQueue: Promise<unknown> = Promise.resolve();

/**
 * The path of `binary`, installing Debian's `pkg` with apt-get when it is missing and
 * this process may (root on a Debian-like system); otherwise an error naming the package.
 */
export async function ensureDebianPackage(binary: string, pkg: string): Promise<string> {
  const found = findCommand(binary);
  if (found !== undefined) return found;
  const remedy = `install the Debian/Ubuntu package '${pkg}' (sudo apt-get install ${pkg}), or put ${binary} on PATH`;
  if (process.getuid?.() !== 0 || findCommand('apt-get') === undefined) {
    throw new EnvError(`${binary} is not installed`, remedy);
  }
  // Parts asking for the same package at once (the three Redis parts) install it once:
  // by its turn in the queue, an earlier install may have brought the binary.
  const install = aptQueue.then(() => (findCommand(binary) === undefined ? aptGetInstall(pkg, remedy) : undefined));
  aptQueue = install.catch(() => undefined);
  await install;
  return requireCommand(binary, remedy);
}

async function aptGetInstall(pkg: string, remedy: string): Promise<void> {
  await slowStep(`apt-get install ${pkg}`, async () => {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    // Another apt (outside this run) may hold the lock for a while: wait for it rather than fail.
    const lockTimeout = ['-o', 'DPkg::Lock::Timeout=300'];
    if (!aptListsFresh) {
      await run('apt-get', [...lockTimeout, 'update', '-qq'], { env, remedy });
      aptListsFresh = true;
    }
    await run('apt-get', [...lockTimeout, 'install', '-y', '-qq', '--no-install-recommends', pkg], { env, remedy });
  });
}
