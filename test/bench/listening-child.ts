import { spawn, type ChildProcess } from 'node:child_process';
import { stopChildWhenOwnerExits } from './lifecycle.js';

/** A server of the benchmark's own running as a child process (through tsx, like a chat node). */
export interface ListeningChild {
  /** The loopback port it printed once listening. */
  port: number;
  child: ChildProcess;
  /** What it wrote on stderr (the inspector's address, errors). */
  output: string[];
}

/**
 * Starts `main` (a TypeScript file that prints `{"port":N}` on stdout once it listens on
 * 127.0.0.1) with `env`; stopped by a watchdog if this process dies. Resolves once it listens.
 */
export async function startListeningChild(what: string, main: string, env: NodeJS.ProcessEnv, timeoutMs = 20_000): Promise<ListeningChild> {
  const child = spawn(process.execPath, ['--import', 'tsx', main], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  if (child.pid !== undefined) stopChildWhenOwnerExits(child.pid);
  const output: string[] = [];
  child.stderr.on('data', (chunk: Buffer) => output.push(chunk.toString('utf8')));
  const port = await new Promise<number>((resolve, reject) => {
    let stdout = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${what} did not listen within ${timeoutMs} ms:\n${output.join('')}`));
    }, timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
      const match = /\{"port":(\d+)\}/.exec(stdout);
      if (match?.[1] === undefined) return;
      clearTimeout(timer);
      resolve(Number(match[1]));
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited ${String(code)} while starting:\n${output.join('')}`));
    });
  });
  return { port, child, output };
}
