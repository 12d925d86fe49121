import type { RedisClient } from './connection.js';
import type { Ack } from '../../protocol/frames.js';
import type { IdempotencyKeys } from '../bus.js';
import { parseAck } from './codec.js';
import type { BusKeys } from './keys.js';
import { reach } from './replies.js';
import { ADOPT_IDEMPOTENCY, COMPLETE_IDEMPOTENCY, HOLD_IDEMPOTENCY, RELEASE_IDEMPOTENCY } from './scripts.js';

const IDEMPOTENCY_TTL_SECONDS = 24 * 60 * 60;
/**
 * A claim whose send never completed (its node died between store and ack) lapses after
 * this, so a retry with the same idem succeeds instead of waiting out the 24 hours.
 */
const PENDING_TTL_SECONDS = 60;

/** The value of a pending claim: the message its send stores (scripts.ts reads it). */
function claimOf(id: string): string {
  return `pending:${id}`;
}

/** Idempotency keys as strings with a time-to-live: `pending:<message id>`, then the first ack. */
export class RedisIdempotencyKeys implements IdempotencyKeys {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: BusKeys,
  ) {}

  /** Claims `key` for `user` and message `id`: undefined when claimed now, the first ack, or 'pending'. */
  async claim(user: string, key: string, id: string): Promise<Ack | 'pending' | undefined> {
    // NX with GET (Redis 7) claims and reads what was there in one atomic step.
    const previous = await reach('claim an idempotency key', () =>
      this.redis.set(this.keys.idempotency(user, key), claimOf(id), 'EX', PENDING_TTL_SECONDS, 'NX', 'GET'),
    );
    if (previous === null) return undefined;
    if (previous.startsWith('pending')) return 'pending';
    return parseAck(previous);
  }

  /** Stores the ack for 24 hours, unless the key holds another send's ack or claim. */
  async complete(user: string, key: string, ack: Ack): Promise<void> {
    const value = JSON.stringify({ id: ack.id, ts: ack.ts, conv: ack.conv });
    await reach('complete an idempotency key', () =>
      this.redis.eval(COMPLETE_IDEMPOTENCY, 1, this.keys.idempotency(user, key), claimOf(ack.id), value, IDEMPOTENCY_TTL_SECONDS),
    );
  }

  /**
   * Pushes message `id`'s pending claim's lapse 60 s out. `GT` only ever lengthens a
   * time-to-live; a key gone already stays gone, another's is left alone.
   */
  async hold(user: string, key: string, id: string): Promise<void> {
    await reach('hold an idempotency key', () =>
      this.redis.eval(HOLD_IDEMPOTENCY, 1, this.keys.idempotency(user, key), claimOf(id), PENDING_TTL_SECONDS),
    );
  }

  /** Drops message `id`'s pending claim so a retry with the same key can succeed; anything else stays. */
  async release(user: string, key: string, id: string): Promise<void> {
    await reach('release an idempotency key', () => this.redis.eval(RELEASE_IDEMPOTENCY, 1, this.keys.idempotency(user, key), claimOf(id)));
  }

  /** Takes the key over for message `id` when it is its claim, its ack or free; false when another send has it. */
  async adopt(user: string, key: string, id: string): Promise<boolean> {
    const adopted = await reach('adopt an idempotency key', () =>
      this.redis.eval(ADOPT_IDEMPOTENCY, 1, this.keys.idempotency(user, key), claimOf(id), PENDING_TTL_SECONDS, id),
    );
    return adopted === 1;
  }
}
