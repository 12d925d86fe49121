/**
 * The managed Redis's TLS settings on a real redis-server (Debian's, as in the rest of the
 * test environment): the exact command the operator gives a standalone Redis pod, with the
 * pod's paths and port mapped to a temporary folder and a free port, and a certificate made
 * by the operator's own self-signed CA. Plaintext is refused, TLS with the CA is served,
 * a renewed certificate is loaded without a restart, and the operator asks a TLS-only
 * Sentinel for the primary, trusting that CA only. Kubernetes itself comes in kind.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parseChatClusterSpec } from '../../common/chatcluster.js';
import { freePort } from '../../dev/env/ports.js';
import { issueServerCertificate, makeCa, type CertifiedKey } from '../../operator/certificates/self-signed.js';
import { desiredRedis } from '../../operator/desired/redis.js';
import { REDIS_TLS_DIR, redisTlsConfigLines } from '../../operator/desired/redis-tls.js';
import { askSentinels } from '../../operator/reconcile/redis-primary.js';
import { testEnvironment } from '../support/env.js';

const SPEC = { tls: { selfSigned: true }, redis: { managed: { mode: 'standalone' } } };
/** A pod's name as in a cluster, and the one this test dials. */
const NAMES = ['demo-redis.team-a.svc', 'localhost'];

/** The serial of the certificate a TLS server presents. */
async function servedSerial(port: number, ca: string): Promise<string> {
  const socket = connect({ host: '127.0.0.1', port, ca, checkServerIdentity: () => undefined });
  await once(socket, 'secureConnect');
  const serial = socket.getPeerCertificate().serialNumber;
  socket.destroy();
  return serial;
}

describe('the managed Redis’s TLS command on a real redis-server', () => {
  const env = testEnvironment();
  let dir: string;
  let port: number;
  let ca: CertifiedKey;
  let server: ChildProcess | undefined;
  let sentinel: ChildProcess | undefined;
  const cli = (...args: string[]) => spawnSync('redis-cli', ['-p', String(port), ...args], { env: env.processEnv, encoding: 'utf8', timeout: 10_000 });
  const writeCertificate = (certificate: CertifiedKey): void => {
    writeFileSync(join(dir, 'tls.crt'), certificate.certificate);
    writeFileSync(join(dir, 'tls.key'), certificate.privateKey);
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'chatcluster-redis-tls-'));
    port = await freePort();
    ca = await makeCa('test CA', new Date());
    writeFileSync(join(dir, 'ca.crt'), ca.certificate);
    writeCertificate(await issueServerCertificate(ca, NAMES, new Date()));

    const cluster = { apiVersion: 'chatcluster.dev/v1alpha1' as const, kind: 'ChatCluster' as const, metadata: { name: 'demo', namespace: 'team-a', uid: 'u', generation: 1 }, spec: parseChatClusterSpec(SPEC) };
    const command = desiredRedis(cluster)?.statefulSet.spec?.template.spec?.containers[0]?.command ?? [];
    expect(command.slice(0, 2)).toEqual(['/bin/sh', '-c']);
    // The pod's paths and port, mapped to this test's.
    const script = (command[2] ?? '').replaceAll(REDIS_TLS_DIR, dir).replaceAll('--dir /data', `--dir ${dir}`).replaceAll('6379', String(port));
    server = spawn('/bin/sh', ['-c', script], { env: env.processEnv, stdio: 'ignore', detached: true });
    await vi.waitFor(() => {
      expect(cli('--tls', '--cacert', join(dir, 'ca.crt'), 'ping').stdout.trim()).toBe('PONG');
    }, { timeout: 15_000, interval: 200 });
  });

  afterAll(() => {
    // The shell's group: redis-server (exec'd in place of the shell) and the reload loop.
    if (server?.pid !== undefined) process.kill(-server.pid, 'SIGKILL');
    sentinel?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a plaintext client and serves one that trusts the operator’s CA', () => {
    const plain = cli('ping');
    expect(plain.stdout.trim()).not.toBe('PONG');
    expect(cli('--tls', '--cacert', join(dir, 'ca.crt'), 'ping').stdout.trim()).toBe('PONG');
  });

  it('is not trusted by a client of another CA', async () => {
    const other = await makeCa('other', new Date());
    writeFileSync(join(dir, 'other-ca.crt'), other.certificate);
    expect(cli('--tls', '--cacert', join(dir, 'other-ca.crt'), 'ping').stdout.trim()).not.toBe('PONG');
  });

  it('lets the operator ask a TLS-only Sentinel for the primary, trusting the CA of <name>-tls, and no one else', async () => {
    const sentinelPort = await freePort();
    const tls = { dir, cliFlags: `--tls --cacert ${dir}/ca.crt` };
    writeFileSync(join(dir, 'sentinel.conf'), [...redisTlsConfigLines(tls, sentinelPort), `dir ${dir}`, `sentinel monitor chat 127.0.0.1 ${String(port)} 1`, ''].join('\n'));
    sentinel = spawn('redis-server', [join(dir, 'sentinel.conf'), '--sentinel'], { env: env.processEnv, stdio: 'ignore' });
    await vi.waitFor(async () => {
      expect(await askSentinels([`localhost:${String(sentinelPort)}`], 'chat', { ca: ca.certificate })).toEqual({ reached: true, primaryHost: '127.0.0.1' });
    }, { timeout: 15_000, interval: 250 });
    // Plaintext, or TLS with another CA, reaches nothing.
    expect(await askSentinels([`localhost:${String(sentinelPort)}`], 'chat')).toEqual({ reached: false });
    expect(await askSentinels([`localhost:${String(sentinelPort)}`], 'chat', { ca: (await makeCa('other', new Date())).certificate })).toEqual({ reached: false });
  });

  it('serves a renewed certificate within the reload loop’s minute, without a restart', async () => {
    const pid = cli('--tls', '--cacert', join(dir, 'ca.crt'), 'info', 'server').stdout.match(/process_id:(\d+)/)?.[1];
    const before = await servedSerial(port, ca.certificate);
    const renewed = await issueServerCertificate(ca, NAMES, new Date());
    writeCertificate(renewed);
    await vi.waitFor(async () => {
      expect(await servedSerial(port, ca.certificate)).not.toBe(before);
    }, { timeout: 80_000, interval: 1000 });
    expect(cli('--tls', '--cacert', join(dir, 'ca.crt'), 'info', 'server').stdout.match(/process_id:(\d+)/)?.[1]).toBe(pid);
  }, 100_000);
});
