import { withinMs } from '../../../common/deadline.js';
import { Cluster } from 'ioredis';
import type { Bus, IdempotencyKeys, NodeHeartbeats, PresenceChannel, PresenceHandler, ProgressLedger, RouteCache, Signals } from '../bus.js';
import { ChannelSubscriptions } from './channels.js';
import { parseRedisAddress } from './address.js';
import { closeConnection, openConnection, serverAddress, serverMilliseconds, whenConnected, type BusSettings, type RedisClient } from './connection.js';
import { RedisNodeHeartbeats } from './heartbeats.js';
import { RedisIdempotencyKeys } from './idempotency.js';
import { RedisInbox } from './inbox.js';
import { BusKeys } from './keys.js';
import { RedisPresenceChannel } from './presence.js';
import { RedisProgressLedger } from './progress.js';
import { reach } from './replies.js';
import { RedisRouteCache } from './route-cache.js';
import { RedisSignals } from './signals.js';

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
  /** For rediss:// addresses: the CA bundle the servers' certificates are checked against (default: the system's). */
  tls?: BusSettings['tls'];
  /** Sentinel mode: ask the sentinels over TLS too (with the same CA). */
  sentinelTls?: boolean;
}

const HEALTH_TIMEOUT_MS = 1_000;
/**
 * How long opening the bus waits: a connection retries on its own and, with every sentinel
 * away, never gives up, so the caller (who retries with back-off, and logs) is answered.
 */
const CONNECT_WAIT_MS = 10_000;
/** How often a Cluster's slot map is read while a master is gone. */
const CLUSTER_POLL_MS = 500;

/**
 * Opens a bus on the Redis at `url`: standalone, Sentinel or Cluster (address.ts has the
 * forms); rejects `unavailable` when it cannot be reached.
 */
export async function connectRedisBus(url: string, options: RedisBusOptions = {}): Promise<RedisBus> {
  const settings: BusSettings = {
    address: parseRedisAddress(url),
    prefix: options.prefix ?? 'chat:',
    inboxMaxLength: options.inboxMaxLength ?? 10_000,
    inboxTtlSeconds: options.inboxTtlSeconds ?? 24 * 60 * 60,
    commandTimeoutMs: options.commandTimeoutMs ?? 2_000,
    report: options.onError ?? (() => undefined),
    tls: options.tls,
    sentinelTls: options.sentinelTls,
  };
  const commands = openConnection(settings, 'commands', { commandTimeout: settings.commandTimeoutMs, enableAutoPipelining: true });
  const subscriber = openConnection(settings, 'subscriber', {});
  try {
    await reach('connect', () => withinMs(CONNECT_WAIT_MS, Promise.all([whenConnected(commands), whenConnected(subscriber)])));
    const openedAt = await reach('read the server clock', () => commands.time());
    return new RedisBus(settings, commands, subscriber, serverMilliseconds(openedAt));
  } catch (error) {
    closeConnection(commands);
    closeConnection(subscriber);
    throw error;
  }
}

/**
 * The bus on Redis 7 or later, standalone, behind Sentinel or a Cluster: streams for
 * inboxes, pub/sub for signals and presence, plain keys for the rest (the layout is in
 * keys.ts). Three kinds of connection: `<prefix>commands`, `<prefix>subscriber` and one
 * `<prefix>inbox:<node>` per consumed inbox (see CLIENT LIST).
 */
export class RedisBus implements Bus {
  readonly inbox: RedisInbox;
  readonly signals: Signals;
  readonly routes: RouteCache;
  readonly idempotency: IdempotencyKeys;
  readonly heartbeats: NodeHeartbeats;
  readonly progress: ProgressLedger;

  private readonly keys: BusKeys;
  private readonly subscriptions: ChannelSubscriptions;
  private readonly reconnectHandlers: (() => void)[] = [];
  private closed = false;

  /** Use connectRedisBus, which opens the connections this takes. */
  constructor(
    private readonly settings: BusSettings,
    private readonly commands: RedisClient,
    private readonly subscriber: RedisClient,
    openedAtMs: number,
  ) {
    this.keys = new BusKeys(settings.prefix, settings.address.mode === 'cluster');
    this.subscriptions = new ChannelSubscriptions(subscriber, settings.report);
    this.inbox = new RedisInbox(settings, commands, this.keys, openedAtMs);
    this.signals = new RedisSignals(commands, this.subscriptions, this.keys);
    this.routes = new RedisRouteCache(commands, this.keys);
    this.idempotency = new RedisIdempotencyKeys(commands, this.keys);
    this.heartbeats = new RedisNodeHeartbeats(commands, this.keys);
    this.progress = new RedisProgressLedger(commands, this.keys);
    this.watchReconnects();
  }

  /**
   * Calls the reconnect handlers once the bus answers again after a loss: the connection
   * came back (to the same server or the new primary), or, on a Cluster, a server went
   * away and then every slot is served by a master that answers (a replica took over).
   */
  private watchReconnects(): void {
    let lost = false;
    const notify = (): void => {
      if (!lost || this.closed) return;
      lost = false;
      for (const handler of this.reconnectHandlers) {
        try {
          handler();
        } catch (error) {
          this.settings.report(error);
        }
      }
    };
    this.commands.on('close', () => {
      lost = true;
    });
    this.commands.on('ready', notify);
    const commands = this.commands;
    if (!(commands instanceof Cluster)) return;
    // A Cluster stays ready while one master is gone; it reads its slot map again when a
    // command is redirected. The bus reads it itself until a replica has taken over.
    let polling = false;
    const poll = (): void => {
      const timer = setTimeout(() => {
        void readSlotMap(commands)
          .then(() => this.isHealthy())
          .then((healthy) => {
            if (this.closed) polling = false;
            else if (!healthy) poll();
            else {
              polling = false;
              notify();
            }
          });
      }, CLUSTER_POLL_MS);
      timer.unref();
    };
    commands.on('-node', () => {
      lost = true;
      if (polling) return;
      polling = true;
      poll();
    });
  }

  /** A presence channel delivering the changes of the users it follows to `handler`. */
  presence(handler: PresenceHandler): Promise<PresenceChannel> {
    return Promise.resolve(new RedisPresenceChannel(this.commands, this.subscriptions, this.keys, handler, this.settings.report));
  }

  /** Registers a handler called each time the connection to Redis is back after a loss. */
  onReconnect(handler: () => void): void {
    this.reconnectHandlers.push(handler);
  }

  /**
   * Whether Redis answers within a second: the server (or Sentinel's primary) answers PING;
   * on a Cluster, the cluster says every slot is served and the master this bus knows for
   * each slot answers.
   */
  async isHealthy(): Promise<boolean> {
    try {
      return await withinMs(HEALTH_TIMEOUT_MS, answers(this.commands));
    } catch {
      return false;
    }
  }

  /** Stops every consumer and closes every connection. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.inbox.close();
    closeConnection(this.commands);
    closeConnection(this.subscriber);
  }
}

async function answers(connection: RedisClient): Promise<boolean> {
  if (!(connection instanceof Cluster)) {
    await connection.ping();
    return true;
  }
  const [info, ...live] = await Promise.all([
    connection.cluster('INFO'),
    ...connection.nodes('master').map(async (master) => {
      await master.ping();
      return serverAddress(master);
    }),
  ]);
  // A master that died is dropped from the connections at once, but owns its slots in the
  // map until a replica takes over: until then, commands for those slots fail.
  const answering = new Set(live);
  return /^cluster_state:ok\s*$/m.test(info) && connection.slots.every((owners) => owners[0] !== undefined && answering.has(owners[0]));
}

/** Reads a Cluster's slot map now; a failure leaves the old one (the next poll tries again). */
function readSlotMap(cluster: Cluster): Promise<void> {
  return new Promise((resolve) => {
    cluster.refreshSlotsCache(() => {
      resolve();
    });
  });
}
