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
/** A claimed key before its ack: the message its send stores. */
interface Pending {
  pendingFor: string;
}

type KeyState = Ack | Pending;

function isPending(state: KeyState | undefined): state is Pending {
  return state !== undefined && 'pendingFor' in state;
}

export class MemoryIdempotencyKeys implements IdempotencyKeys {
  private readonly keys = new Map<string, { state: KeyState; expiresAt: number }>();
  private lastSweep = 0;

  claim(user: string, key: string, id: string): Promise<Ack | 'pending' | undefined> {
    const name = keyName(user, key);
    const existing = this.live(name)?.state;
    if (existing !== undefined) return Promise.resolve(isPending(existing) ? 'pending' : { ...existing });
    // As in Redis: a claim never completed lapses soon, so a retry can go ahead.
    this.remember(name, { state: { pendingFor: id }, expiresAt: Date.now() + PENDING_MS });
    return Promise.resolve(undefined);
  }

  complete(user: string, key: string, ack: Ack): Promise<void> {
    const name = keyName(user, key);
    // As in Redis: another send's ack or claim (this claim lapsed, a retry took the key) is kept.
    const current = this.live(name)?.state;
    if (current !== undefined && !this.owns(current, ack.id)) return Promise.resolve();
    this.remember(name, { state: { ...ack }, expiresAt: Date.now() + IDEMPOTENCY_MS });
    return Promise.resolve();
  }

  hold(user: string, key: string, id: string): Promise<void> {
    const existing = this.live(keyName(user, key));
    if (existing !== undefined && this.owns(existing.state, id)) existing.expiresAt = Math.max(existing.expiresAt, Date.now() + PENDING_MS);
    return Promise.resolve();
  }

  release(user: string, key: string, id: string): Promise<void> {
    const name = keyName(user, key);
    const existing = this.live(name);
    if (existing !== undefined && this.owns(existing.state, id)) this.keys.delete(name);
    return Promise.resolve();
  }

  adopt(user: string, key: string, id: string): Promise<boolean> {
    const name = keyName(user, key);
    const existing = this.live(name);
    if (existing === undefined) {
      this.remember(name, { state: { pendingFor: id }, expiresAt: Date.now() + PENDING_MS });
      return Promise.resolve(true);
    }
    if (!isPending(existing.state)) return Promise.resolve(existing.state.id === id);
    if (!this.owns(existing.state, id)) return Promise.resolve(false);
    existing.expiresAt = Math.max(existing.expiresAt, Date.now() + PENDING_MS);
    return Promise.resolve(true);
  }

  get size(): number {
    return this.keys.size;
  }

  /** Whether a key's state is the pending claim of message `id`. */
  private owns(state: KeyState, id: string): boolean {
    return isPending(state) && state.pendingFor === id;
  }

  /** A key's entry unless it has expired. */
  private live(name: string): { state: KeyState; expiresAt: number } | undefined {
    const entry = this.keys.get(name);
    return entry !== undefined && entry.expiresAt > Date.now() ? entry : undefined;
  }

  /** Sets a key as the newest (Map order is insertion order), then keeps the map bounded. */
  private remember(name: string, entry: { state: KeyState; expiresAt: number }): void {
    this.keys.delete(name);
    this.keys.set(name, entry);
    const now = Date.now();
    if (now - this.lastSweep > 60_000) {
      this.lastSweep = now;
      for (const [other, { expiresAt }] of this.keys) if (expiresAt <= now) this.keys.delete(other);
    }
    for (const other of this.keys.keys()) {
      if (this.keys.size <= MAX_IDEMPOTENCY_KEYS) break;
      this.keys.delete(other);
    }
  }
}

function keyName(user: string, key: string): string {
  return `${user}\u0000${key}`;
}
