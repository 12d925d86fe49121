import type { Ack } from '../../protocol/frames.js';
import type { IdempotencyKeys } from '../bus.js';

const IDEMPOTENCY_MS = 24 * 60 * 60 * 1000;
const PENDING_MS = 60 * 1000;
/** How many idempotency keys the embedded node keeps at most. */
export const MAX_IDEMPOTENCY_KEYS = 100_000;

/** A claimed key before its ack: the message its send stores. */
interface Pending {
  pendingFor: string;
}

type KeyState = Ack | Pending;

interface Entry {
  state: KeyState;
  expiresAt: number;
}

/** Whether a key's state is the pending claim of message `id`. */
function isClaimOf(state: KeyState, id: string): boolean {
  return isPending(state) && state.pendingFor === id;
}

function isPending(state: KeyState | undefined): state is Pending {
  return state !== undefined && 'pendingFor' in state;
}

/**
 * The embedded node's keys, bounded: expired keys are swept once a minute, and past
 * MAX_IDEMPOTENCY_KEYS the oldest go first (a retry that late may then store its message
 * again; Redis keeps every key its 24 hours).
 */
export class MemoryIdempotencyKeys implements IdempotencyKeys {
  private readonly keys = new Map<string, Entry>();
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
    if (current !== undefined && !isClaimOf(current, ack.id)) return Promise.resolve();
    this.remember(name, { state: { ...ack }, expiresAt: Date.now() + IDEMPOTENCY_MS });
    return Promise.resolve();
  }

  hold(user: string, key: string, id: string): Promise<void> {
    const existing = this.live(keyName(user, key));
    if (existing !== undefined && isClaimOf(existing.state, id)) holdOn(existing);
    return Promise.resolve();
  }

  release(user: string, key: string, id: string): Promise<void> {
    const name = keyName(user, key);
    const existing = this.live(name);
    if (existing !== undefined && isClaimOf(existing.state, id)) this.keys.delete(name);
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
    if (!isClaimOf(existing.state, id)) return Promise.resolve(false);
    holdOn(existing);
    return Promise.resolve(true);
  }

  get size(): number {
    return this.keys.size;
  }

  /** A key's entry unless it has expired. */
  private live(name: string): Entry | undefined {
    const entry = this.keys.get(name);
    return entry !== undefined && entry.expiresAt > Date.now() ? entry : undefined;
  }

  /** Sets a key as the newest (Map order is insertion order), then keeps the map bounded. */
  private remember(name: string, entry: Entry): void {
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

/** Pushes a pending claim's lapse 60 s out; never sooner than it was. */
function holdOn(entry: { expiresAt: number }): void {
  entry.expiresAt = Math.max(entry.expiresAt, Date.now() + PENDING_MS);
}

function keyName(user: string, key: string): string {
  return `${user}\u0000${key}`;
}
