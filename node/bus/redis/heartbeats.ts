import { randomUUID } from 'node:crypto';
import type { RedisClient } from './connection.js';
import type { NodeHeartbeats } from '../bus.js';
import { stringsOf } from './codec.js';
import type { BusKeys } from './keys.js';
import { reach } from './replies.js';
import { BEAT, BEATING, EXPIRED, RELEASE_CLAIM, RENEW_CLAIM } from './scripts.js';

/** Heartbeats in one sorted set scored by expiry on the Redis clock; clean-up claims as NX keys. */
export class RedisNodeHeartbeats implements NodeHeartbeats {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: BusKeys,
  ) {}

  /** Marks `node` alive for `ttlSeconds` from now. */
  async beat(node: string, ttlSeconds: number): Promise<void> {
    await reach('write a heartbeat', () =>
      this.redis.eval(BEAT, 1, this.keys.heartbeats(), node, Math.round(ttlSeconds * 1000)),
    );
  }

  /** The nodes whose last heartbeat has expired. */
  async expired(): Promise<string[]> {
    return stringsOf(await reach('read heartbeats', () => this.redis.eval(EXPIRED, 1, this.keys.heartbeats())));
  }

  /** Drops `node` from the heartbeats. */
  async forget(node: string): Promise<void> {
    await reach('forget a heartbeat', () => this.redis.zrem(this.keys.heartbeats(), node));
  }

  /**
   * Claims the clean-up of `node` for `ttlSeconds`; the token for the one caller that won,
   * unless the node beats again. The claim and the heartbeat are two keys (two masters of a
   * Cluster), so the claim is taken first and the heartbeat read after it: a next life takes
   * the same claim before its first beat, so either it waits for this clean-up, or its beat
   * is seen here.
   */
  async claimCleanup(node: string, ttlSeconds: number): Promise<string | undefined> {
    const token = await this.claimOwnCleanup(node, ttlSeconds);
    if (token === undefined || !(await this.isBeating(node))) return token;
    await this.releaseCleanup(node, token);
    return undefined;
  }

  /** Claims the clean-up of `node` whatever its heartbeat says. */
  async claimOwnCleanup(node: string, ttlSeconds: number): Promise<string | undefined> {
    const token = randomUUID();
    const answer = await reach('claim a clean-up', () =>
      this.redis.set(this.keys.cleanup(node), token, 'EX', wholeSeconds(ttlSeconds), 'NX'),
    );
    return answer === 'OK' ? token : undefined;
  }

  async keepCleanup(node: string, token: string, ttlSeconds: number): Promise<boolean> {
    const renewed = await reach('renew a clean-up', () => this.redis.eval(RENEW_CLAIM, 1, this.keys.cleanup(node), token, wholeSeconds(ttlSeconds)));
    return renewed === 1 && !(await this.isBeating(node));
  }

  async releaseCleanup(node: string, token: string): Promise<void> {
    await reach('release a clean-up', () => this.redis.eval(RELEASE_CLAIM, 1, this.keys.cleanup(node), token));
  }

  private async isBeating(node: string): Promise<boolean> {
    return (await reach('read a heartbeat', () => this.redis.eval(BEATING, 1, this.keys.heartbeats(), node))) === 1;
  }
}

function wholeSeconds(seconds: number): number {
  return Math.max(1, Math.ceil(seconds));
}
