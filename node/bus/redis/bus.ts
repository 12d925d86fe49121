import type { Redis } from 'ioredis';
import type { Bus, IdempotencyKeys, NodeHeartbeats, PresenceChannel, PresenceHandler, ProgressLedger, RouteCache, Signals } from '../bus.js';
import { ChannelSubscriptions } from './channels.js';
import { openConnection, serverMilliseconds, type BusSettings } from './connection.js';
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
}

const HEALTH_TIMEOUT_MS = 1_000;

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

/**
 * The bus on one standalone Redis (7 or later): streams for inboxes, pub/sub for signals
 * and presence, plain keys for the rest (the layout is in keys.ts). Three kinds of
 * connection: `<prefix>commands`, `<prefix>subscriber` and one `<prefix>inbox:<node>` per
 * consumed inbox (see CLIENT LIST).
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
    private readonly commands: Redis,
    private readonly subscriber: Redis,
    openedAtMs: number,
  ) {
    this.keys = new BusKeys(settings.prefix);
    this.subscriptions = new ChannelSubscriptions(subscriber, settings.report);
    this.inbox = new RedisInbox(settings, commands, this.keys, openedAtMs);
    this.signals = new RedisSignals(commands, this.subscriptions, this.keys);
    this.routes = new RedisRouteCache(commands, this.keys);
    this.idempotency = new RedisIdempotencyKeys(commands, this.keys);
    this.heartbeats = new RedisNodeHeartbeats(commands, this.keys);
    this.progress = new RedisProgressLedger(commands, this.keys);
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

  /** A presence channel delivering the changes of the users it follows to `handler`. */
  presence(handler: PresenceHandler): Promise<PresenceChannel> {
    return Promise.resolve(new RedisPresenceChannel(this.commands, this.subscriptions, this.keys, handler, this.settings.report));
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
    await this.inbox.close();
    this.commands.disconnect();
    this.subscriber.disconnect();
  }
}
