import type { Ack } from '../protocol/frames.js';
import type { SessionRecord } from '../store/store.js';
import type {
  Bus,
  Envelope,
  EnvelopeHandler,
  IdempotencyKeys,
  NodeHeartbeats,
  PresenceChannel,
  PresenceHandler,
  RouteCache,
  Signal,
  SignalHandler,
  Unsubscribe,
} from './bus.js';
import { MemoryProgressLedger } from './memory-progress.js';

const IDEMPOTENCY_MS = 24 * 60 * 60 * 1000;
const PENDING_MS = 60 * 1000;
/** How many idempotency keys the embedded node keeps at most. */
export const MAX_IDEMPOTENCY_KEYS = 100_000;

/**
 * The embedded node's bus: in-process queues and maps with the Redis bus's behaviour.
 * One instance can serve several nodes of one process (tests do this).
 */
export class MemoryBus implements Bus {
  private readonly inboxes = new Map<string, Inbox>();
  private readonly signalHandlers = new Map<string, Set<SignalHandler>>();
  private readonly presenceFollowers = new Set<{ users: Set<string>; handler: PresenceHandler }>();

  readonly routes = new MemoryRouteCache();
  readonly idempotency = new MemoryIdempotencyKeys();
  readonly heartbeats = new MemoryHeartbeats();
  readonly progress = new MemoryProgressLedger();

  publish(node: string, envelope: Envelope): Promise<void> {
    this.inbox(node).push(structuredClone(envelope));
    return Promise.resolve();
  }

  consume(node: string, handler: EnvelopeHandler): Promise<Unsubscribe> {
    return Promise.resolve(this.inbox(node).consume(handler));
  }

  signal(node: string, signal: Signal): Promise<void> {
    for (const handler of this.signalHandlers.get(node) ?? []) handler(structuredClone(signal));
    return Promise.resolve();
  }

  onSignal(node: string, handler: SignalHandler): Promise<Unsubscribe> {
    const handlers = this.signalHandlers.get(node) ?? new Set();
    this.signalHandlers.set(node, handlers);
    handlers.add(handler);
    return Promise.resolve(() => {
      handlers.delete(handler);
      return Promise.resolve();
    });
  }

  presence(handler: PresenceHandler): Promise<PresenceChannel> {
    const follower = { users: new Set<string>(), handler };
    this.presenceFollowers.add(follower);
    return Promise.resolve({
      announce: (user, status) => {
        for (const { users, handler: notify } of this.presenceFollowers) {
          if (users.has(user)) notify(user, status);
        }
        return Promise.resolve();
      },
      follow: (users) => {
        for (const user of users) follower.users.add(user);
        return Promise.resolve();
      },
      unfollow: (users) => {
        for (const user of users) follower.users.delete(user);
        return Promise.resolve();
      },
    });
  }

  onReconnect(): void {
    // An in-process bus never loses its server.
  }

  isHealthy(): Promise<boolean> {
    return Promise.resolve(true);
  }

  close(): Promise<void> {
    for (const inbox of this.inboxes.values()) inbox.stop();
    return Promise.resolve();
  }

  private inbox(node: string): Inbox {
    let inbox = this.inboxes.get(node);
    if (inbox === undefined) {
      inbox = new Inbox();
      this.inboxes.set(node, inbox);
    }
    return inbox;
  }
}

/** One node's queue: entries wait until a consumer takes them, in order, one at a time. */
class Inbox {
  private readonly pending: Envelope[] = [];
  private handler: EnvelopeHandler | undefined;
  private draining = false;

  push(envelope: Envelope): void {
    this.pending.push(envelope);
    void this.drain();
  }

  consume(handler: EnvelopeHandler): Unsubscribe {
    this.handler = handler;
    void this.drain();
    return () => {
      if (this.handler === handler) this.handler = undefined;
      return Promise.resolve();
    };
  }

  stop(): void {
    this.handler = undefined;
  }

  private async drain(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    try {
      for (;;) {
        const handler = this.handler;
        const envelope = this.pending[0];
        if (handler === undefined || envelope === undefined) return;
        try {
          await handler(envelope);
        } catch {
          // As with the Redis bus, a failing handler does not stop the inbox; the node reports it.
        }
        this.pending.shift();
      }
    } finally {
      this.draining = false;
    }
  }
}

class MemoryRouteCache implements RouteCache {
  private readonly sessionsByUser = new Map<string, Map<string, SessionRecord>>();
  private readonly nodesByGroup = new Map<string, Set<string>>();

  addSession(session: SessionRecord): Promise<boolean> {
    const sessions = this.sessionsByUser.get(session.user) ?? new Map<string, SessionRecord>();
    this.sessionsByUser.set(session.user, sessions);
    const wasOffline = sessions.size === 0;
    sessions.set(`${session.node}/${session.session}`, { ...session });
    return Promise.resolve(wasOffline);
  }

  removeSession(session: SessionRecord): Promise<boolean> {
    const sessions = this.sessionsByUser.get(session.user);
    if (sessions?.delete(`${session.node}/${session.session}`) !== true) return Promise.resolve(false);
    if (sessions.size > 0) return Promise.resolve(false);
    this.sessionsByUser.delete(session.user);
    return Promise.resolve(true);
  }

  sessionsOf(user: string): Promise<SessionRecord[]> {
    return Promise.resolve([...(this.sessionsByUser.get(user)?.values() ?? [])].map((s) => ({ ...s })));
  }

  onlineStatus(users: readonly string[]): Promise<Record<string, boolean>> {
    return Promise.resolve(Object.fromEntries(users.map((user) => [user, (this.sessionsByUser.get(user)?.size ?? 0) > 0])));
  }

  addGroupNode(group: string, node: string): Promise<void> {
    const nodes = this.nodesByGroup.get(group) ?? new Set<string>();
    this.nodesByGroup.set(group, nodes);
    nodes.add(node);
    return Promise.resolve();
  }

  removeGroupNode(group: string, node: string): Promise<void> {
    this.nodesByGroup.get(group)?.delete(node);
    return Promise.resolve();
  }

  groupNodes(group: string): Promise<string[]> {
    return Promise.resolve([...(this.nodesByGroup.get(group) ?? [])].sort());
  }

  removeNode(node: string): Promise<string[]> {
    const wentOffline: string[] = [];
    for (const [user, sessions] of this.sessionsByUser) {
      let removed = false;
      for (const [key, session] of sessions) {
        if (session.node === node) {
          sessions.delete(key);
          removed = true;
        }
      }
      if (removed && sessions.size === 0) {
        this.sessionsByUser.delete(user);
        wentOffline.push(user);
      }
    }
    for (const nodes of this.nodesByGroup.values()) nodes.delete(node);
    return Promise.resolve(wentOffline.sort());
  }
}

/**
 * The embedded node's keys, bounded: expired keys are swept once a minute, and past
 * MAX_IDEMPOTENCY_KEYS the oldest go first (a retry that late may then store its message
 * again; Redis keeps every key its 24 hours).
 */
class MemoryIdempotencyKeys implements IdempotencyKeys {
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

class MemoryHeartbeats implements NodeHeartbeats {
  private readonly expiries = new Map<string, number>();
  private readonly cleanupClaims = new Map<string, number>();

  beat(node: string, ttlSeconds: number): Promise<void> {
    this.expiries.set(node, Date.now() + ttlSeconds * 1000);
    return Promise.resolve();
  }

  expired(): Promise<string[]> {
    const now = Date.now();
    return Promise.resolve([...this.expiries].filter(([, expiry]) => expiry <= now).map(([node]) => node).sort());
  }

  forget(node: string): Promise<void> {
    this.expiries.delete(node);
    return Promise.resolve();
  }

  claimCleanup(node: string, ttlSeconds: number): Promise<boolean> {
    const now = Date.now();
    const claimedUntil = this.cleanupClaims.get(node);
    if (claimedUntil !== undefined && claimedUntil > now) return Promise.resolve(false);
    this.cleanupClaims.set(node, now + ttlSeconds * 1000);
    return Promise.resolve(true);
  }
}
