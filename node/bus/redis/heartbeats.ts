import type { RedisClient } from './connection.js';
import type { NodeHeartbeats } from '../bus.js';
import { stringsOf } from './codec.js';
import type { BusKeys } from './keys.js';
import { reach } from './replies.js';
import { BEAT, EXPIRED } from './scripts.js';

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

  /** Claims the clean-up of `node` for `ttlSeconds`; true for the one caller that won. */
  async claimCleanup(node: string, ttlSeconds: number): Promise<boolean> {
    const seconds = Math.max(1, Math.ceil(ttlSeconds));
    const answer = await reach('claim a clean-up', () =>
      this.redis.set(this.keys.cleanup(node), 'claimed', 'EX', seconds, 'NX'),
    );
    return answer === 'OK';
  }
}
