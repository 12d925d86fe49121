import type { RedisClient } from './connection.js';
import type { NodeHeartbeats } from '../bus.js';
import { stringsOf } from './codec.js';
import type { BusKeys } from './keys.js';
import { reach } from './replies.js';
import { BEAT, BEATING, EXPIRED } from './scripts.js';

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
   * Claims the clean-up of `node` for `ttlSeconds`; true for the one caller that won, unless
   * the node beats again. The claim and the heartbeat are two keys (two masters of a
   * Cluster), so the claim is taken first and the heartbeat read after it: a next life takes
   * the same claim before its first beat, so either it waits for this clean-up, or its beat
   * is seen here.
   */
  async claimCleanup(node: string, ttlSeconds: number): Promise<boolean> {
    if (!(await this.claimOwnCleanup(node, ttlSeconds))) return false;
    const beating = await reach('read a heartbeat', () => this.redis.eval(BEATING, 1, this.keys.heartbeats(), node));
    if (beating !== 1) return true;
    await this.releaseCleanup(node);
    return false;
  }

  /** Claims the clean-up of `node` whatever its heartbeat says. */
  async claimOwnCleanup(node: string, ttlSeconds: number): Promise<boolean> {
    const seconds = Math.max(1, Math.ceil(ttlSeconds));
    const answer = await reach('claim a clean-up', () =>
      this.redis.set(this.keys.cleanup(node), 'claimed', 'EX', seconds, 'NX'),
    );
    return answer === 'OK';
  }

  async releaseCleanup(node: string): Promise<void> {
    await reach('release a clean-up', () => this.redis.del(this.keys.cleanup(node)));
  }
}
