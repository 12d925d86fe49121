import { Redis } from 'ioredis';
import type { Launcher } from './launcher.js';
import { freePort } from './ports.js';
import { ensureDebianPackage } from './tools.js';

/** Finds redis-server, installing Debian's package when it is missing and allowed. */
export function provisionRedis(): Promise<string> {
  return ensureDebianPackage('redis-server', 'redis-server');
}

/** Starts a throw-away Redis on a free loopback port; resolves with its URL once it answers PING. */
export async function startRedis(redisServer: string, launcher: Launcher): Promise<string> {
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  await launcher.start(
    'redis',
    redisServer,
    [
      '--bind', '127.0.0.1',
      '--port', String(port),
      '--dir', launcher.dir,
      // Nothing to keep between runs; a test that needs persistence configures it itself.
      '--save', '',
      '--appendonly', 'no',
      '--daemonize', 'no',
    ],
    () => answersPing(url),
  );
  return url;
}

/** Whether a Redis at `url` answers PING now (one attempt, no retries). */
export async function answersPing(url: string): Promise<boolean> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => {
    // Refused connections while the server starts are expected; connect() reports them.
  });
  try {
    await client.connect();
    await client.ping();
    return true;
  } finally {
    client.disconnect();
  }
}
