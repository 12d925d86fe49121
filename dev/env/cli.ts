/**
 * The test environment from a shell:
 *   npm run -s env:up -- [redis|cassandra|k8s|helm|prometheus ...]   start (or reuse), print `export` lines
 *   npm run -s env:down                                              stop everything, remove its data
 *   npm run -s env:provision -- [parts ...]                          only build and fetch (cached)
 */
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EnvError } from './errors.js';
import {
  exportLines,
  exportsOf,
  loadState,
  parsePartNames,
  provision,
  saveState,
  startParts,
  stopEnvironment,
} from './environment.js';
import { say } from './progress.js';

/** One environment per checkout, in a stable place so `up` again and `down` find it. */
function environmentDir(): string {
  const checkout = fileURLToPath(new URL('../../', import.meta.url));
  const id = createHash('sha256').update(checkout).digest('hex').slice(0, 10);
  return join(tmpdir(), `chatcluster-testenv-${id}`);
}

async function main(command: string | undefined, args: string[]): Promise<void> {
  const dir = environmentDir();
  switch (command) {
    case 'provision':
      await provision(parsePartNames(args));
      return;
    case 'up': {
      const keepFile = join(dir, 'keep');
      const state = await startParts(parsePartNames(args), dir, { ownerPid: process.pid, keepFile, previous: loadState(dir) });
      saveState(state);
      writeFileSync(keepFile, '');
      say(`environment in ${dir}; stop it with: npm run -s env:down`);
      process.stdout.write(`${exportLines(exportsOf(state))}\n`);
      return;
    }
    case 'down': {
      const state = loadState(dir);
      if (state === undefined) {
        say('nothing is running');
        return;
      }
      await stopEnvironment(state);
      say('stopped');
      return;
    }
    default:
      throw new EnvError(`unknown command ${command ?? '(none)'}`, 'use: up [parts], down, provision [parts]');
  }
}

main(process.argv[2], process.argv.slice(3)).catch((error: unknown) => {
  say(`error: ${error instanceof Error ? error.message : String(error)}`);
  if (!(error instanceof EnvError) && error instanceof Error && error.stack !== undefined) say(error.stack);
  process.exit(1);
});
