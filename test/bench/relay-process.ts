import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startListeningChild } from './listening-child.js';

const RELAY_MAIN = fileURLToPath(new URL('./relay-server.ts', import.meta.url));

/** The peer relay running as a child process, like a chat node (and through tsx like one). */
export interface RelayProcess {
  url: string;
  wsUrl: string;
  child: ChildProcess;
  /** What it wrote on stderr (the inspector's address, errors). */
  output: string[];
}

/** Starts the relay with `env` (e.g. NODE_OPTIONS) and resolves once it listens. */
export async function startRelay(env: NodeJS.ProcessEnv, timeoutMs = 20_000): Promise<RelayProcess> {
  const { port, child, output } = await startListeningChild('the relay', RELAY_MAIN, env, timeoutMs);
  const url = `http://127.0.0.1:${port}`;
  return { url, wsUrl: `ws://127.0.0.1:${port}`, child, output };
}
