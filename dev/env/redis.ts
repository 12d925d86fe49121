import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { askRedisOnce } from '../../common/redis-once.js';
import type { TestCertificates } from './certificates.js';
import { EnvError } from './errors.js';
import type { Launcher } from './launcher.js';
import { freePort } from './ports.js';
import type { ServerProcess } from './process.js';
import { ensureDebianPackage } from './tools.js';

/** Finds redis-server, installing Debian's package (which brings redis-cli) when it is missing and allowed. */
export function provisionRedis(): Promise<string> {
  return ensureDebianPackage('redis-server', 'redis-server');
}

/**
 * The flags every test Redis runs with: loopback only, its own folder, nothing persisted
 * (a restarted server starts empty; a test that needs persistence configures it itself).
 */
export function redisServerArgs(port: number, dir: string): string[] {
  return ['--bind', '127.0.0.1', '--port', String(port), '--dir', dir, '--save', '', '--appendonly', 'no', '--daemonize', 'no'];
}

/** Starts redis-server `name` on `port` in a folder of its own, with `extraArgs`; resolves once it answers PING. */
export async function startRedisServer(
  launcher: Launcher,
  redisServer: string,
  name: string,
  port: number,
  extraArgs: readonly string[] = [],
): Promise<ServerProcess> {
  const dir = launcher.path(name);
  mkdirSync(dir, { recursive: true });
  return launcher.start(name, redisServer, [...redisServerArgs(port, dir), ...extraArgs], () => answersPing(`redis://127.0.0.1:${port}`));
}

/** Starts a throw-away Redis on a free loopback port; resolves with its URL once it answers PING. */
export async function startRedis(redisServer: string, launcher: Launcher): Promise<string> {
  const port = await freePort();
  await startRedisServer(launcher, redisServer, 'redis', port);
  return `redis://127.0.0.1:${port}`;
}

/**
 * Starts a Redis that speaks TLS only (no plaintext port) with the certificate `certs`
 * names; resolves with its `rediss://` URL once it answers PING over TLS.
 */
export async function startTlsRedis(redisServer: string, launcher: Launcher, certs: Pick<TestCertificates, 'caFile' | 'certFile' | 'keyFile'>): Promise<string> {
  const port = await freePort();
  const url = `rediss://127.0.0.1:${port}`;
  const dir = launcher.path('redis-tls');
  mkdirSync(dir, { recursive: true });
  const tls = ['--port', '0', '--tls-port', String(port), '--tls-cert-file', certs.certFile, '--tls-key-file', certs.keyFile, '--tls-ca-cert-file', certs.caFile, '--tls-auth-clients', 'no'];
  const ca = readFileSync(certs.caFile, 'utf8');
  await launcher.start('redis-tls', redisServer, [...redisServerArgs(port, dir), ...tls], () => answersPing(url, { ca }));
  return url;
}

/**
 * Starts a sentinel that listens on TLS only and watches the TLS-only Redis on `redisPort`
 * (over TLS: `tls-replication`), as the operator's managed Sentinels with spec.tls do;
 * resolves with the `rediss+sentinel://` URL once it names that Redis as primary.
 */
export async function startTlsSentinel(redisServer: string, launcher: Launcher, certs: Pick<TestCertificates, 'caFile' | 'certFile' | 'keyFile'>, redisPort: number): Promise<string> {
  const port = await freePort();
  const dir = launcher.path('sentinel-tls');
  mkdirSync(dir, { recursive: true });
  const config = join(dir, 'sentinel.conf');
  // A sentinel rewrites its configuration file as it learns the topology.
  writeFileSync(
    config,
    [
      'bind 127.0.0.1',
      'port 0',
      `tls-port ${port}`,
      `tls-cert-file ${certs.certFile}`,
      `tls-key-file ${certs.keyFile}`,
      `tls-ca-cert-file ${certs.caFile}`,
      'tls-auth-clients no',
      'tls-replication yes',
      `dir ${dir}`,
      `sentinel monitor ${TLS_SENTINEL_MASTER} 127.0.0.1 ${redisPort} 1`,
      '',
    ].join('\n'),
  );
  const ca = readFileSync(certs.caFile, 'utf8');
  await launcher.start('sentinel-tls', redisServer, [config, '--sentinel'], async () => {
    const primary = await askRedis(`rediss://127.0.0.1:${port}`, (client) => client.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', TLS_SENTINEL_MASTER), { ca });
    return Array.isArray(primary) && String(primary[1]) === String(redisPort);
  });
  return `rediss+sentinel://127.0.0.1:${port}/${TLS_SENTINEL_MASTER}`;
}

const TLS_SENTINEL_MASTER = 'chat';

/** Whether a Redis at `url` answers PING now (one attempt, no retries). */
export async function answersPing(url: string, tls?: { ca: string }): Promise<boolean> {
  await askRedis(url, (client) => client.ping(), tls);
  return true;
}

/** Runs `question` on a one-off connection to `url` (no retries; `tls`: the CA a rediss:// server is checked against) and closes it. */
export function askRedis<T>(url: string, question: (client: Redis) => Promise<T>, tls?: { ca: string }): Promise<T> {
  return askRedisOnce(url, question, { timeoutMs: 5_000, tls });
}

/**
 * Asks each of the servers on `ports` with `read` until `isReady` holds for every answer;
 * after 30 s fails with what each last answered (a failed question counts as not ready).
 */
export async function untilEveryServer<T>(ports: readonly number[], what: string, read: (port: number) => Promise<T>, isReady: (answer: T) => boolean): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const answers = await Promise.all(ports.map((port) => read(port).then((answer) => ({ answer }), (error: unknown) => ({ error: String(error) }))));
    if (answers.every((reply) => 'answer' in reply && isReady(reply.answer))) return;
    if (Date.now() > deadline) throw new EnvError(`${what} in 30 s: ${JSON.stringify(answers)}`);
    await sleep(250);
  }
}
