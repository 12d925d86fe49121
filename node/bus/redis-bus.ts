import { Redis, type RedisOptions } from 'ioredis';
import type { Ack, PresenceStatus } from '../protocol/frames.js';
import { ChatError } from '../protocol/errors.js';
import type { SessionRecord } from '../store/store.js';
import type {
  Bus,
  Envelope,
  EnvelopeHandler,
  IdempotencyKeys,
  NodeHeartbeats,
  PresenceChannel,
  PresenceHandler,
  ProgressLedger,
  RouteCache,
  Signal,
  SignalHandler,
  Unsubscribe,
} from './bus.js';
import { reach, resultsOf } from './redis-replies.js';
import { RedisProgressLedger } from './redis-progress.js';

/**
 * The cluster's bus on one standalone Redis (7 or later). Key layout, every key and
 * channel starting with the prefix (`chat:` unless told otherwise):
 *
 * | key | type | what |
 * | --- | --- | --- |
 * | `inbox:<node>` | stream | the node's durable inbox, one field `e` (the envelope as JSON) |
 * | `sessions:<user>` | hash | session id → node id: the user's sockets |
 * | `node-sessions:<node>` | set | `["<user>","<session>"]` (JSON) of each socket the node hosts |
 * | `group-nodes:<group>` | set | node ids hosting an online member of the group |
 * | `node-groups:<node>` | set | the groups the node appears in, to clean them when it dies |
 * | `idem:<user>:<key>` | string | `pending` or the first ack (JSON), 24 h |
 * | `heartbeats` | sorted set | node id scored by the expiry of its last heartbeat (ms, Redis clock) |
 * | `cleanup:<node>` | string | the claim of one survivor to clean up a dead node |
 * | `watermarks` | hash | node id → its watermark (a message id floor) |
 * | `in-flight:<node>` | hash | message id → the node's accepted, not yet routed message (JSON) |
 *
 * Pub/sub channels: `signal:<node>` (typing, JSON) and `presence:<user>` (`online`/`offline`).
 * Connections are named `<prefix>commands`, `<prefix>subscriber` and `<prefix>inbox:<node>`
 * (see CLIENT LIST).
 */
export interface RedisBusOptions {
  /** Prepended to every key, channel and connection name, so clusters or tests can share a Redis. */
  prefix?: string;
  /** The approximate length each inbox is trimmed to (`XADD MAXLEN ~`). */
  inboxMaxLength?: number;
  /** How long an inbox nobody publishes to is kept: a dead node's inbox goes away by itself. */
  inboxTtlSeconds?: number;
  /** How long a command may take before it fails as `unavailable`. */
  commandTimeoutMs?: number;
  /**
   * Failures the bus recovers from on its own (a handler that threw, an inbox read that
   * failed and is retried), for the node to log or count; the bus itself never logs.
   */
  onError?: (error: unknown) => void;
}

const IDEMPOTENCY_TTL_SECONDS = 24 * 60 * 60;
/**
 * A claim whose send never completed (its node died between store and ack) lapses after
 * this, so a retry with the same idem succeeds instead of waiting out the 24 hours.
 */
const PENDING_TTL_SECONDS = 60;
const ENVELOPE_FIELD = 'e';
const READ_BATCH = 100;
const READ_BLOCK_MS = 5_000;
const RETRY_PAUSE_MS = 250;
const HEALTH_TIMEOUT_MS = 1_000;
/** The largest sequence number of a stream id (2^64 - 1). */
const MAX_SEQUENCE = '18446744073709551615';

/** Opens a bus on the Redis at `url` (`redis://host:port[/db]`); rejects `unavailable` when it cannot be reached. */
export async function connectRedisBus(url: string, options: RedisBusOptions = {}): Promise<RedisBus> {
  const settings: BusSettings = {
    url,
    prefix: options.prefix ?? 'chat:',
    inboxMaxLength: options.inboxMaxLength ?? 10_000,
    inboxTtlSeconds: options.inboxTtlSeconds ?? 24 * 60 * 60,
    commandTimeoutMs: options.commandTimeoutMs ?? 2_000,
    report: options.onError ?? (() => undefined),
  };
  const commands = openConnection(settings, 'commands', { commandTimeout: settings.commandTimeoutMs });
  const subscriber = openConnection(settings, 'subscriber', {});
  try {
    await reach('connect', () => Promise.all([commands.connect(), subscriber.connect()]));
    const openedAt = await reach('read the server clock', () => commands.time());
    return new RedisBus(settings, commands, subscriber, serverMilliseconds(openedAt));
  } catch (error) {
    commands.disconnect();
    subscriber.disconnect();
    throw error;
  }
}

interface BusSettings {
  url: string;
  prefix: string;
  inboxMaxLength: number;
  inboxTtlSeconds: number;
  commandTimeoutMs: number;
  report: (error: unknown) => void;
}

/**
 * A connection that fails fast while Redis is away instead of queueing: commands are
 * rejected when it is not ready (no offline queue) and those in flight when it drops are
 * rejected at once (no retry per request), while it keeps reconnecting in the background.
 */
function openConnection(settings: BusSettings, role: string, extra: RedisOptions): Redis {
  const connection = new Redis(settings.url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    connectTimeout: 2_000,
    retryStrategy: (attempt) => Math.min(attempt * 100, 1_000),
    connectionName: `${settings.prefix}${role}`.replace(/[^\x21-\x7e]/g, '_'),
    ...extra,
  });
  connection.on('error', () => {
    // Connection errors surface as rejected commands and through isHealthy; the event only
    // needs a listener so ioredis does not print them.
  });
  return connection;
}

/** Milliseconds from a TIME reply (seconds, microseconds). */
function serverMilliseconds([seconds, microseconds]: readonly unknown[]): number {
  return Number(seconds) * 1000 + Math.floor(Number(microseconds) / 1000);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseEnvelope(text: string): Envelope {
  const value: unknown = JSON.parse(text);
  if (isRecord(value) && (value.kind === 'message' || value.kind === 'membership' || value.kind === 'watermark')) return value as Envelope;
  throw new Error(`inbox entry is not an envelope: ${text.slice(0, 200)}`);
}

function parseSignal(text: string): Signal {
  const value: unknown = JSON.parse(text);
  if (
    isRecord(value) &&
    value.kind === 'typing' &&
    typeof value.from === 'string' &&
    typeof value.conv === 'string' &&
    (value.users === undefined || Array.isArray(value.users))
  ) {
    // No users: a group's typing, relayed to the receiving node's members of the group.
    const users = Array.isArray(value.users) ? { users: value.users.map(String) } : {};
    return { kind: 'typing', from: value.from, conv: value.conv, ...users };
  }
  throw new Error(`not a signal: ${text.slice(0, 200)}`);
}

function parseAck(text: string): Ack {
  const value: unknown = JSON.parse(text);
  if (isRecord(value) && typeof value.id === 'string' && typeof value.ts === 'number' && typeof value.conv === 'string') {
    return { id: value.id, ts: value.ts, conv: value.conv };
  }
  throw new ChatError('internal', 'stored idempotency ack is malformed');
}

/** Names of every key and channel, in one place so the layout above stays true. */
export class BusKeys {
  constructor(readonly prefix: string) {}

  inbox(node: string): string {
    return `${this.prefix}inbox:${node}`;
  }
  sessions(user: string): string {
    return `${this.prefix}sessions:${user}`;
  }
  nodeSessions(node: string): string {
    return `${this.prefix}node-sessions:${node}`;
  }
  groupNodes(group: string): string {
    return `${this.prefix}group-nodes:${group}`;
  }
  nodeGroups(node: string): string {
    return `${this.prefix}node-groups:${node}`;
  }
  idempotency(user: string, key: string): string {
    // User ids cannot contain ':', so the user part cannot run into the key part.
    return `${this.prefix}idem:${user}:${key}`;
  }
  heartbeats(): string {
    return `${this.prefix}heartbeats`;
  }
  cleanup(node: string): string {
    return `${this.prefix}cleanup:${node}`;
  }
  watermarks(): string {
    return `${this.prefix}watermarks`;
  }
  inFlight(node: string): string {
    return `${this.prefix}in-flight:${node}`;
  }
  signalChannel(node: string): string {
    return `${this.prefix}signal:${node}`;
  }
  presenceChannel(user: string): string {
    return `${this.prefix}presence:${user}`;
  }
}

// The route scripts keep "first/last session" answers atomic with the writes. KEYS:
// the user's sessions hash and the node's session index; ARGV: session, node, index member.
const ADD_SESSION = `
local added = redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('SADD', KEYS[2], ARGV[3])
if added == 1 and redis.call('HLEN', KEYS[1]) == 1 then return 1 end
return 0`;

// A session recorded on another node (the client moved) is not this record's to remove.
const REMOVE_SESSION = `
redis.call('SREM', KEYS[2], ARGV[3])
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
if redis.call('HLEN', KEYS[1]) == 0 then return 1 end
return 0`;

// KEYS: the node's session index and group index; ARGV: prefix, node. The users' hashes and
// the group sets are only known once the indexes are read, so their names are built here:
// this needs a standalone Redis, not Redis Cluster.
const REMOVE_NODE = `
local offline = {}
for _, member in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local record = cjson.decode(member)
  local sessions = ARGV[1] .. 'sessions:' .. record[1]
  if redis.call('HGET', sessions, record[2]) == ARGV[2] then
    redis.call('HDEL', sessions, record[2])
    if redis.call('HLEN', sessions) == 0 then table.insert(offline, record[1]) end
  end
end
redis.call('DEL', KEYS[1])
for _, group in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  redis.call('SREM', ARGV[1] .. 'group-nodes:' .. group, ARGV[2])
end
redis.call('DEL', KEYS[2])
return offline`;

// Heartbeats use the Redis clock, so nodes with skewed clocks agree on who expired.
const REDIS_NOW_MS = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)`;

const BEAT = `${REDIS_NOW_MS}
redis.call('ZADD', KEYS[1], string.format('%.0f', now + tonumber(ARGV[2])), ARGV[1])
return 1`;

const EXPIRED = `${REDIS_NOW_MS}
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', string.format('%.0f', now))`;

function stringsOf(value: unknown): string[] {
  if (!Array.isArray(value)) throw new Error('Redis answered with something other than a list');
  return value.map((item) => String(item));
}

class RedisRouteCache implements RouteCache {
  constructor(
    private readonly redis: Redis,
    private readonly keys: BusKeys,
  ) {}

  /** Records a socket; true when it is the user's first anywhere. */
  async addSession(session: SessionRecord): Promise<boolean> {
    const first = await reach('record a session', () =>
      this.redis.eval(ADD_SESSION, 2, ...this.sessionScriptArgs(session)),
    );
    return first === 1;
  }

  /** Removes a socket; true when it was the user's last anywhere. */
  async removeSession(session: SessionRecord): Promise<boolean> {
    const last = await reach('remove a session', () =>
      this.redis.eval(REMOVE_SESSION, 2, ...this.sessionScriptArgs(session)),
    );
    return last === 1;
  }

  private sessionScriptArgs(session: SessionRecord): string[] {
    return [
      this.keys.sessions(session.user),
      this.keys.nodeSessions(session.node),
      session.session,
      session.node,
      JSON.stringify([session.user, session.session]),
    ];
  }

  /** The user's sockets as the cache knows them. */
  async sessionsOf(user: string): Promise<SessionRecord[]> {
    const sessions = await reach('read sessions', () => this.redis.hgetall(this.keys.sessions(user)));
    return Object.entries(sessions).map(([session, node]) => ({ user, node, session }));
  }

  /** Whether each user has a socket anywhere, in one round trip. */
  async onlineStatus(users: readonly string[]): Promise<Record<string, boolean>> {
    if (users.length === 0) return {};
    const pipeline = this.redis.pipeline();
    for (const user of users) pipeline.exists(this.keys.sessions(user));
    const counts = await reach('read online status', async () => resultsOf(await pipeline.exec()));
    return Object.fromEntries(users.map((user, index) => [user, counts[index] === 1]));
  }

  /** Notes that `node` hosts an online member of `group`. */
  async addGroupNode(group: string, node: string): Promise<void> {
    await reach('record a group node', async () =>
      resultsOf(
        await this.redis.multi().sadd(this.keys.groupNodes(group), node).sadd(this.keys.nodeGroups(node), group).exec(),
      ),
    );
  }

  /** Notes that `node` hosts no online member of `group` any more. */
  async removeGroupNode(group: string, node: string): Promise<void> {
    await reach('remove a group node', async () =>
      resultsOf(
        await this.redis.multi().srem(this.keys.groupNodes(group), node).srem(this.keys.nodeGroups(node), group).exec(),
      ),
    );
  }

  /** The nodes hosting an online member of `group`. */
  groupNodes(group: string): Promise<string[]> {
    return reach('read group nodes', () => this.redis.smembers(this.keys.groupNodes(group)));
  }

  /** Forgets a dead node's sessions and group entries; resolves with the users left with no socket. */
  async removeNode(node: string): Promise<string[]> {
    const offline = await reach('remove a node', () =>
      this.redis.eval(REMOVE_NODE, 2, this.keys.nodeSessions(node), this.keys.nodeGroups(node), this.keys.prefix, node),
    );
    return stringsOf(offline);
  }
}

class RedisIdempotencyKeys implements IdempotencyKeys {
  constructor(
    private readonly redis: Redis,
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

  /** Stores the ack of a claimed key for 24 hours. */
  async complete(user: string, key: string, ack: Ack): Promise<void> {
    const value = JSON.stringify({ id: ack.id, ts: ack.ts, conv: ack.conv });
    await reach('complete an idempotency key', () =>
      this.redis.set(this.keys.idempotency(user, key), value, 'EX', IDEMPOTENCY_TTL_SECONDS),
    );
  }

  /** Drops a claim so a retry with the same key can succeed. */
  async release(user: string, key: string): Promise<void> {
    await reach('release an idempotency key', () => this.redis.del(this.keys.idempotency(user, key)));
  }
}

class RedisNodeHeartbeats implements NodeHeartbeats {
  constructor(
    private readonly redis: Redis,
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

type MessageListener = (message: string) => void;

/**
 * The pub/sub channels listened to on the subscriber connection, shared by every
 * listener of this bus: a channel is subscribed while it has at least one listener.
 */
class ChannelSubscriptions {
  private readonly listeners = new Map<string, Set<MessageListener>>();

  constructor(
    private readonly connection: Redis,
    private readonly report: (error: unknown) => void,
  ) {
    connection.on('message', (channel: string, message: string) => {
      for (const listener of this.listeners.get(channel) ?? []) {
        try {
          listener(message);
        } catch (error) {
          // A throwing handler must not break the delivery to the other listeners.
          this.report(error);
        }
      }
    });
  }

  /** Adds `listener` to each channel, subscribing those that had none. */
  async add(channels: readonly string[], listener: MessageListener): Promise<void> {
    const fresh: string[] = [];
    for (const channel of channels) {
      let listeners = this.listeners.get(channel);
      if (listeners === undefined) {
        listeners = new Set();
        this.listeners.set(channel, listeners);
        fresh.push(channel);
      }
      listeners.add(listener);
    }
    if (fresh.length === 0) return;
    try {
      await reach('subscribe', () => this.connection.subscribe(...fresh));
    } catch (error) {
      this.forget(channels, listener);
      throw error;
    }
  }

  /** Removes `listener` from each channel, unsubscribing those left with none. */
  async remove(channels: readonly string[], listener: MessageListener): Promise<void> {
    const emptied = this.forget(channels, listener);
    if (emptied.length === 0) return;
    await reach('unsubscribe', () => this.connection.unsubscribe(...emptied));
  }

  private forget(channels: readonly string[], listener: MessageListener): string[] {
    const emptied: string[] = [];
    for (const channel of channels) {
      const listeners = this.listeners.get(channel);
      if (listeners?.delete(listener) !== true) continue;
      if (listeners.size === 0) {
        this.listeners.delete(channel);
        emptied.push(channel);
      }
    }
    return emptied;
  }
}

class RedisPresenceChannel implements PresenceChannel {
  /** One listener per followed user: following twice is following once. */
  private readonly followed = new Map<string, MessageListener>();

  constructor(
    private readonly redis: Redis,
    private readonly subscriptions: ChannelSubscriptions,
    private readonly keys: BusKeys,
    private readonly handler: PresenceHandler,
    private readonly report: (error: unknown) => void,
  ) {}

  /** Tells every node following `user` its new status. */
  async announce(user: string, status: PresenceStatus): Promise<void> {
    await reach('announce presence', () => this.redis.publish(this.keys.presenceChannel(user), status));
  }

  /** Starts receiving these users' changes. */
  async follow(users: readonly string[]): Promise<void> {
    await Promise.all(
      [...new Set(users)]
        .filter((user) => !this.followed.has(user))
        .map(async (user) => {
          const listener: MessageListener = (message) => {
            if (message === 'online' || message === 'offline') this.handler(user, message);
            else this.report(new Error(`presence of ${user} is not a status: ${message.slice(0, 200)}`));
          };
          this.followed.set(user, listener);
          try {
            await this.subscriptions.add([this.keys.presenceChannel(user)], listener);
          } catch (error) {
            this.followed.delete(user);
            throw error;
          }
        }),
    );
  }

  /** Stops receiving these users' changes. */
  async unfollow(users: readonly string[]): Promise<void> {
    await Promise.all(
      [...new Set(users)].map(async (user) => {
        const listener = this.followed.get(user);
        if (listener === undefined) return;
        this.followed.delete(user);
        await this.subscriptions.remove([this.keys.presenceChannel(user)], listener);
      }),
    );
  }
}

/**
 * Reads one node's inbox on a connection of its own, blocking in XREAD, and hands each
 * envelope to the handler in order, one at a time. It survives disconnects: it waits for
 * the connection to come back and reads again after the last envelope it processed.
 */
class InboxConsumer {
  private stopped = false;
  private wake: (() => void) | undefined;
  private readonly loop: Promise<void>;

  constructor(
    private readonly connection: Redis,
    private readonly key: string,
    private cursor: string,
    private readonly handler: EnvelopeHandler,
    private readonly processed: (id: string) => void,
    private readonly report: (error: unknown) => void,
  ) {
    connection.connect().catch(() => {
      // The loop waits for the connection, which keeps retrying on its own.
    });
    this.loop = this.run();
  }

  /** Stops reading; resolves once the envelope in hand (if any) has been processed. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    this.connection.disconnect();
    await this.loop;
  }

  /** Read through a method: the flag changes while the loop awaits, which narrowing cannot see. */
  private isStopped(): boolean {
    return this.stopped;
  }

  private async run(): Promise<void> {
    let failing = false;
    while (!this.stopped) {
      if (this.connection.status !== 'ready') {
        await this.pause(RETRY_PAUSE_MS * 4, true);
        continue;
      }
      let reply: [string, [string, string[]][]][] | null;
      try {
        reply = await this.connection.xread('COUNT', READ_BATCH, 'BLOCK', READ_BLOCK_MS, 'STREAMS', this.key, this.cursor);
        failing = false;
      } catch (error) {
        if (this.isStopped()) break;
        // One report per outage, not one per retry.
        if (!failing) this.report(new ChatError('unavailable', `cannot read ${this.key}`, { cause: error }));
        failing = true;
        await this.pause(RETRY_PAUSE_MS, true);
        continue;
      }
      for (const [id, fields] of reply?.[0]?.[1] ?? []) {
        // Entries read but not handled are read again by the next consumer, from the cursor.
        if (this.isStopped()) return;
        await this.deliver(fields);
        this.cursor = id;
        this.processed(id);
      }
    }
  }

  private async deliver(fields: string[]): Promise<void> {
    try {
      const text = fields[fields.indexOf(ENVELOPE_FIELD) + 1];
      if (text === undefined) throw new Error(`inbox entry has no ${ENVELOPE_FIELD} field`);
      await this.handler(parseEnvelope(text));
    } catch (error) {
      // A poison entry or failing handler is skipped, never retried forever: it would block the inbox.
      this.report(error);
    }
  }

  private pause(ms: number, untilReady: boolean): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.connection.off('ready', done);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      if (untilReady) this.connection.on('ready', done);
      this.wake = done;
    });
  }
}

/** The bus on Redis: streams for inboxes, pub/sub for signals and presence, plain keys for the rest. */
export class RedisBus implements Bus {
  readonly routes: RouteCache;
  readonly idempotency: IdempotencyKeys;
  readonly heartbeats: NodeHeartbeats;
  readonly progress: ProgressLedger;

  private readonly keys: BusKeys;
  private readonly subscriptions: ChannelSubscriptions;
  private readonly consumers = new Map<string, InboxConsumer>();
  /** Per node, the id of the last envelope processed, where the next consume starts. */
  private readonly cursors = new Map<string, string>();
  /** When each inbox this bus publishes to last had its expiry pushed out (ms). */
  private readonly expiryRefreshedAt = new Map<string, number>();
  private readonly reconnectHandlers: (() => void)[] = [];
  /**
   * Where a node's first consume starts: just before this bus opened (Redis clock), so
   * envelopes published to it since are delivered and a previous process's leftovers are not.
   */
  private readonly firstCursor: string;
  private closed = false;

  /** Use connectRedisBus, which opens the connections this takes. */
  constructor(
    private readonly settings: BusSettings,
    private readonly commands: Redis,
    private readonly subscriber: Redis,
    openedAtMs: number,
  ) {
    this.keys = new BusKeys(settings.prefix);
    this.routes = new RedisRouteCache(commands, this.keys);
    this.idempotency = new RedisIdempotencyKeys(commands, this.keys);
    this.heartbeats = new RedisNodeHeartbeats(commands, this.keys);
    this.progress = new RedisProgressLedger(commands, this.keys);
    this.subscriptions = new ChannelSubscriptions(subscriber, settings.report);
    this.firstCursor = `${openedAtMs - 1}-${MAX_SEQUENCE}`;
    this.watchReconnects();
  }

  private watchReconnects(): void {
    let lost = false;
    this.commands.on('close', () => {
      lost = true;
    });
    this.commands.on('ready', () => {
      if (!lost || this.closed) return;
      lost = false;
      for (const handler of this.reconnectHandlers) {
        try {
          handler();
        } catch (error) {
          this.settings.report(error);
        }
      }
    });
  }

  /** Appends to a node's inbox (trimmed to about inboxMaxLength, expiring when unused). */
  async publish(node: string, envelope: Envelope): Promise<void> {
    const key = this.keys.inbox(node);
    const { inboxMaxLength, inboxTtlSeconds } = this.settings;
    const payload = JSON.stringify(envelope);
    // One XADD per entry; the inbox's expiry (which clears a dead node's inbox) is pushed out
    // at most once a minute per inbox, in the same round trip, not on every entry.
    const now = Date.now();
    const refreshExpiry = (this.expiryRefreshedAt.get(key) ?? 0) < now - 60_000;
    await reach('publish to an inbox', async () => {
      if (!refreshExpiry) {
        await this.commands.xadd(key, 'MAXLEN', '~', inboxMaxLength, '*', ENVELOPE_FIELD, payload);
        return;
      }
      resultsOf(await this.commands.pipeline().xadd(key, 'MAXLEN', '~', inboxMaxLength, '*', ENVELOPE_FIELD, payload).expire(key, inboxTtlSeconds).exec());
      this.expiryRefreshedAt.set(key, now);
    });
  }

  /** Consumes a node's inbox in order, after the last envelope this bus processed for it. */
  consume(node: string, handler: EnvelopeHandler): Promise<Unsubscribe> {
    if (this.closed) return Promise.reject(new ChatError('unavailable', 'the bus is closed'));
    if (this.consumers.has(node)) {
      // Two loops on one cursor would hand envelopes out twice.
      return Promise.reject(new Error(`the inbox of ${node} is already being consumed`));
    }
    const connection = openConnection(this.settings, `inbox:${node}`, { socketTimeout: READ_BLOCK_MS * 2 });
    const consumer = new InboxConsumer(
      connection,
      this.keys.inbox(node),
      this.cursors.get(node) ?? this.firstCursor,
      handler,
      (id) => this.cursors.set(node, id),
      this.settings.report,
    );
    this.consumers.set(node, consumer);
    return Promise.resolve(async () => {
      if (this.consumers.get(node) !== consumer) return;
      this.consumers.delete(node);
      await consumer.stop();
    });
  }

  /** Sends a typing signal to a node (at most once). */
  async signal(node: string, signal: Signal): Promise<void> {
    await reach('send a signal', () => this.commands.publish(this.keys.signalChannel(node), JSON.stringify(signal)));
  }

  /** Receives the signals sent to `node` from the moment this resolves. */
  async onSignal(node: string, handler: SignalHandler): Promise<Unsubscribe> {
    const channel = this.keys.signalChannel(node);
    const listener: MessageListener = (message) => {
      handler(parseSignal(message));
    };
    await this.subscriptions.add([channel], listener);
    return () => this.subscriptions.remove([channel], listener);
  }

  /** A presence channel delivering the changes of the users it follows to `handler`. */
  presence(handler: PresenceHandler): Promise<PresenceChannel> {
    return Promise.resolve(
      new RedisPresenceChannel(this.commands, this.subscriptions, this.keys, handler, this.settings.report),
    );
  }

  /** Registers a handler called each time the connection to Redis is back after a loss. */
  onReconnect(handler: () => void): void {
    this.reconnectHandlers.push(handler);
  }

  /** Whether Redis answers a PING within a second. */
  async isHealthy(): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => {
        resolve(false);
      }, HEALTH_TIMEOUT_MS);
    });
    try {
      return await Promise.race([this.commands.ping().then(() => true), timeout]);
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Stops every consumer and closes every connection. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const consumers = [...this.consumers.values()];
    this.consumers.clear();
    await Promise.all(consumers.map((consumer) => consumer.stop()));
    this.commands.disconnect();
    this.subscriber.disconnect();
  }
}
