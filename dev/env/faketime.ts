import { existsSync } from 'node:fs';
import { EnvError } from './errors.js';
import { ensureDebianPackage } from './tools.js';

/** Where Debian's libfaketime puts the library that shifts a process's clock (LD_PRELOAD). */
const LIBRARY_PATHS = ['/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1', '/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1'];

/**
 * libfaketime, for tests that run a chat node with a clock set off from the others (clock
 * skew): installs Debian's `faketime` when missing and resolves with the library's path.
 */
export async function provisionFaketime(): Promise<string> {
  await ensureDebianPackage('faketime', 'faketime');
  const library = LIBRARY_PATHS.find((path) => existsSync(path));
  if (library === undefined) throw new EnvError('libfaketime.so.1 is not where Debian puts it', 'install the Debian package libfaketime');
  return library;
}
