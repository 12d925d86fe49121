import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { stopChildWhenOwnerExits } from './lifecycle.js';

const RELAY_MAIN = fileURLToPath(new URL('./relay-server.ts', import.meta.url));

/** The peer relay running as a child process, like a chat node (and through tsx like one). */
export interface RelayProcess {
  url: string;
  wsUrl: string;
  metricsUrl: string;
  child: ChildProcess;
  /** What it wrote on stderr (the inspector's address, errors). */
  output: string[];
}

/** Starts the relay with `env` (e.g. NODE_OPTIONS) and resolves once it listens. */
export async function startRelay(env: NodeJS.ProcessEnv, timeoutMs = 20_000): Promise<RelayProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', RELAY_MAIN], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  if (child.pid !== undefined) stopChildWhenOwnerExits(child.pid);
  const output: string[] = [];
  child.stderr.on('data', (chunk: Buffer) => output.push(chunk.toString('utf8')));
  const port = await new Promise<number>((resolve, reject) => {
    let stdout = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the relay did not listen within ${timeoutMs} ms:\n${output.join('')}`));
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
      reject(new Error(`the relay exited ${String(code)} while starting:\n${output.join('')}`));
    });
  });
  const url = `http://127.0.0.1:${port}`;
  return { url, wsUrl: `ws://127.0.0.1:${port}`, metricsUrl: `${url}/metrics`, child, output };
}
