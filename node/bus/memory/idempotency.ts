import type { Ack } from '../../protocol/frames.js';
import type { IdempotencyKeys } from '../bus.js';

const IDEMPOTENCY_MS = 24 * 60 * 60 * 1000;
const PENDING_MS = 60 * 1000;
/** How many idempotency keys the embedded node keeps at most. */
export const MAX_IDEMPOTENCY_KEYS = 100_000;

/**
 * The embedded node's keys, bounded: expired keys are swept once a minute, and past
 * MAX_IDEMPOTENCY_KEYS the oldest go first (a retry that late may then store its message
 * again; Redis keeps every key its 24 hours).
 */
export class MemoryIdempotencyKeys implements IdempotencyKeys {
  private readonly keys = new Map<string, { ack: Ack | 'pending'; expiresAt: number }>();
  private lastSweep = 0;

  claim(user: string, key: string): Promise<Ack | 'pending' | undefined> {
    const id = `${user}\u0000${key}`;
    const existing = this.keys.get(id);
    if (existing !== undefined && existing.expiresAt > Date.now()) return Promise.resolve(existing.ack);
    // As in Redis: a claim never completed lapses soon, so a retry can go ahead.
    this.remember(id, { ack: 'pending', expiresAt: Date.now() + PENDING_MS });
    return Promise.resolve(undefined);
  }

  complete(user: string, key: string, ack: Ack): Promise<void> {
    this.remember(`${user}\u0000${key}`, { ack: { ...ack }, expiresAt: Date.now() + IDEMPOTENCY_MS });
    return Promise.resolve();
  }

  hold(user: string, key: string): Promise<void> {
    const existing = this.keys.get(`${user}\u0000${key}`);
    if (existing?.ack === 'pending') existing.expiresAt = Math.max(existing.expiresAt, Date.now() + PENDING_MS);
    return Promise.resolve();
  }

  release(user: string, key: string): Promise<void> {
    this.keys.delete(`${user}\u0000${key}`);
    return Promise.resolve();
  }

  get size(): number {
    return this.keys.size;
  }

  /** Sets a key as the newest (Map order is insertion order), then keeps the map bounded. */
  private remember(id: string, entry: { ack: Ack | 'pending'; expiresAt: number }): void {
    this.keys.delete(id);
    this.keys.set(id, entry);
    const now = Date.now();
    if (now - this.lastSweep > 60_000) {
      this.lastSweep = now;
      for (const [key, { expiresAt }] of this.keys) if (expiresAt <= now) this.keys.delete(key);
    }
    for (const key of this.keys.keys()) {
      if (this.keys.size <= MAX_IDEMPOTENCY_KEYS) break;
      this.keys.delete(key);
    }
  }
}
