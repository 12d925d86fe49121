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
    const existing = this.live(id);
    if (existing !== undefined) return Promise.resolve(existing.ack);
    // As in Redis: a claim never completed lapses soon, so a retry can go ahead.
    this.remember(id, { ack: 'pending', expiresAt: Date.now() + PENDING_MS });
    return Promise.resolve(undefined);
  }

  complete(user: string, key: string, ack: Ack): Promise<void> {
    const id = `${user}\u0000${key}`;
    // As in Redis: an ack already there (another send's, after a lapsed claim) is kept.
    const current = this.live(id)?.ack;
    if (current !== undefined && current !== 'pending') return Promise.resolve();
    this.remember(id, { ack: { ...ack }, expiresAt: Date.now() + IDEMPOTENCY_MS });
    return Promise.resolve();
  }

  hold(user: string, key: string): Promise<void> {
    const existing = this.live(`${user}\u0000${key}`);
    if (existing?.ack === 'pending') existing.expiresAt = Math.max(existing.expiresAt, Date.now() + PENDING_MS);
    return Promise.resolve();
  }

  release(user: string, key: string): Promise<void> {
    const id = `${user}\u0000${key}`;
    if (this.live(id)?.ack === 'pending') this.keys.delete(id);
    return Promise.resolve();
  }

  /** A key's entry unless it has expired. */
  private live(id: string): { ack: Ack | 'pending'; expiresAt: number } | undefined {
    const entry = this.keys.get(id);
    return entry !== undefined && entry.expiresAt > Date.now() ? entry : undefined;
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
