import type { RedisClient } from './connection.js';
import type { Ack } from '../../protocol/frames.js';
import type { IdempotencyKeys } from '../bus.js';
import { parseAck } from './codec.js';
import type { BusKeys } from './keys.js';
import { reach } from './replies.js';
import { COMPLETE_IDEMPOTENCY, RELEASE_IDEMPOTENCY } from './scripts.js';

const IDEMPOTENCY_TTL_SECONDS = 24 * 60 * 60;
/**
 * A claim whose send never completed (its node died between store and ack) lapses after
 * this, so a retry with the same idem succeeds instead of waiting out the 24 hours.
 */
const PENDING_TTL_SECONDS = 60;

/** Idempotency keys as strings with a time-to-live: `pending`, then the first ack. */
export class RedisIdempotencyKeys implements IdempotencyKeys {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: BusKeys,
  ) {}

  /** Claims `key` for `user`: undefined when claimed now, the first ack, or 'pending'. */
  async claim(user: string, key: string): Promise<Ack | 'pending' | undefined> {
    // NX with GET (Redis 7) claims and reads what was there in one atomic step.
    const previous = await reach('claim an idempotency key', () =>
      this.redis.set(this.keys.idempotency(user, key), 'pending', 'EX', PENDING_TTL_SECONDS, 'NX', 'GET'),
    );
    if (previous === null) return undefined;
    if (previous === 'pending') return 'pending';
    return parseAck(previous);
  }

  /** Stores the ack of a claimed key for 24 hours, unless the key holds another send's ack. */
  async complete(user: string, key: string, ack: Ack): Promise<void> {
    const value = JSON.stringify({ id: ack.id, ts: ack.ts, conv: ack.conv });
    await reach('complete an idempotency key', () =>
      this.redis.eval(COMPLETE_IDEMPOTENCY, 1, this.keys.idempotency(user, key), value, IDEMPOTENCY_TTL_SECONDS),
    );
  }

  /**
   * Pushes a pending claim's lapse 60 s out. `GT` only ever lengthens a time-to-live, so a
   * completed key's 24 hours are never cut short; a key gone already stays gone.
   */
  async hold(user: string, key: string): Promise<void> {
    await reach('hold an idempotency key', () => this.redis.expire(this.keys.idempotency(user, key), PENDING_TTL_SECONDS, 'GT'));
  }

  /** Drops a pending claim so a retry with the same key can succeed; a completed key stays. */
  async release(user: string, key: string): Promise<void> {
    await reach('release an idempotency key', () => this.redis.eval(RELEASE_IDEMPOTENCY, 1, this.keys.idempotency(user, key)));
  }
}
