/**
 * The managed Redis image the operator names (REDIS_IMAGE): the official one when it can
 * be had, else a stand-in with Debian's redis-server (redis/Dockerfile says what it keeps
 * of the official image's contract).
 */
import { fileURLToPath } from 'node:url';
import { REDIS_IMAGE } from '../../../operator/desired/dependencies.js';
import type { DockerEngine } from '../docker/engine.js';
import { run } from '../process.js';
import { provideSubstitute, type ProvidedImage } from './substitute.js';

const CONTEXT = fileURLToPath(new URL('redis/', import.meta.url));

/** Debian bookworm packages Redis 7.0; the official tag is newer. A label says which it is. */
export function redisImage(engine: DockerEngine): Promise<ProvidedImage> {
  return provideSubstitute(engine, {
    image: REDIS_IMAGE,
    // gosu: the official entry point's way to drop from root to the redis user.
    rootfs: { name: 'redis', packages: ['redis-server', 'gosu'] },
    inputs: [CONTEXT],
    context: () => Promise.resolve({ dir: CONTEXT, cleanup: () => undefined }),
    labels: async () => ({ 'dev.chatcluster.stand-in-for': REDIS_IMAGE, 'dev.chatcluster.redis-version': await debianRedisVersion() }),
  });
}

/** The version of redis-server that bookworm ships, as apt on the host sees it. */
async function debianRedisVersion(): Promise<string> {
  const policy = await run('apt-cache', ['policy', 'redis-server']).catch(() => '');
  return /Candidate: (\S+)/.exec(policy)?.[1] ?? 'unknown';
}
