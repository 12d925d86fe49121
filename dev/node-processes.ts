import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { get as httpGet } from 'node:http';
import { get as httpsGet } from 'node:https';
import { fileURLToPath } from 'node:url';
import { freePort } from './env/ports.js';
import { killWhenOwnerExits } from './env/process.js';
import { mintToken } from '../node/auth/tokens.js';

const NODE_MAIN = fileURLToPath(new URL('../node/main.ts', import.meta.url));
export const TEST_JWT_SECRET = 'test-secret-0123456789abcdef0123456789';

/** A chat node running as a child process, as it runs in a pod. */
export interface NodeProcess {
  id: string;
  url: string;
  wsUrl: string;
  adminUrl: string;
  child: ChildProcess;
  /** What the node logged (JSON lines), for assertions and failure messages. */
  output: string[];
}

/**
 * Runs the node entry point (TypeScript, through tsx) with `args` and `env`. With
 * CHATCLUSTER_NODE_CPU_PROF_DIR set, the node writes a V8 CPU profile there when it exits
 * (`npm run bench -- --cpu-prof DIR`); Node refuses --cpu-prof in NODE_OPTIONS.
 */
function spawnNode(args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  const profileDir = env.CHATCLUSTER_NODE_CPU_PROF_DIR;
  const profiling = profileDir === undefined || profileDir === '' ? [] : ['--cpu-prof', `--cpu-prof-dir=${profileDir}`];
  const child = spawn(process.execPath, [...profiling, '--import', 'tsx', NODE_MAIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  if (child.pid !== undefined) killWhenOwnerExits(child.pid);
  return child;
}

/** Runs `migrate` and resolves when it exited 0. */
export async function migrate(env: NodeJS.ProcessEnv): Promise<void> {
  const child = spawnNode(['migrate'], env);
  const output: string[] = [];
  child.stdout?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`migrate exited ${String(code)}:\n${output.join('')}`);
}

/** Starts a node and waits until its /readyz answers 200. */
export async function startNode(env: NodeJS.ProcessEnv, id = `node-${randomBytes(3).toString('hex')}`): Promise<NodeProcess> {
  const [port, adminPort] = await Promise.all([freePort(), freePort()]);
  const child = spawnNode([], {
    ...env,
    CHAT_NODE_ID: id,
    CHAT_PORT: String(port),
    CHAT_ADMIN_PORT: String(adminPort),
    CHAT_ADVERTISE_ADDRESS: `127.0.0.1:${adminPort}`,
    ...(env.CHAT_JWT_JWKS_URL === undefined ? { CHAT_JWT_SECRET: env.CHAT_JWT_SECRET ?? TEST_JWT_SECRET } : {}),
    LOG_LEVEL: env.LOG_LEVEL ?? 'info',
  });
  const output: string[] = [];
  child.stdout?.on('data', (chunk: Buffer) => output.push(...chunk.toString().split('\n').filter((line) => line !== '')));
  child.stderr?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  const tls = env.CHAT_TLS_CERT_FILE !== undefined;
  const node: NodeProcess = {
    id,
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    wsUrl: `${tls ? 'wss' : 'ws'}://127.0.0.1:${port}`,
    adminUrl: `http://127.0.0.1:${adminPort}`,
    child,
    output,
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`node ${id} exited ${child.exitCode} while starting:\n${output.join('\n')}`);
    const ready = await isReady(node.url);
    if (ready) return node;
    if (Date.now() > deadline) throw new Error(`node ${id} not ready after 30 s:\n${output.join('\n')}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Whether `/readyz` answers 200. Like a kubelet's HTTPS probe, it does not check the
 * certificate: whom to trust is the clients' question, not the probe's.
 */
function isReady(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const request = (url.startsWith('https:') ? httpsGet : httpGet)(`${url}/readyz`, { rejectUnauthorized: false, timeout: 2_000 }, (response) => {
      response.resume();
      resolve(response.statusCode === 200);
    });
    request.on('error', () => {
      resolve(false);
    });
    request.on('timeout', () => {
      request.destroy();
    });
  });
}

/** Stops a node: SIGTERM (a graceful drain) by default, or SIGKILL to play a crash. */
export async function stopNode(node: NodeProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  if (node.child.exitCode !== null || node.child.signalCode !== null) return node.child.exitCode;
  const exited = once(node.child, 'exit') as Promise<[number | null]>;
  node.child.kill(signal);
  const [code] = await exited;
  return code;
}

/** A token for `user` signed with the test secret. */
export function tokenFor(user: string, ttlSeconds = 3600): Promise<string> {
  return mintToken(TEST_JWT_SECRET, user, ttlSeconds);
}
