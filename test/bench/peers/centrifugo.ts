import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { Centrifuge, State, type PublicationContext, type StreamPosition, type SubscribedContext } from 'centrifuge';
import { SignJWT } from 'jose';
import WebSocket from 'ws';
import { provisionCentrifugo } from '../../../dev/env/centrifugo.js';
import type { Launcher } from '../../../dev/env/launcher.js';
import { freePort } from '../../../dev/env/ports.js';
import { answersOk } from '../../../dev/env/probes.js';
import type { ServerProcess } from '../../../dev/env/process.js';
import type { FrameHandler } from '../bench-socket.js';
import type { CatchUp, StormSocket } from '../reconnect-storm.js';
import type { LoadTarget } from '../targets.js';
import { peerRequest, replyTo, type SendTarget } from './chat-frames.js';

/**
 * Each user's personal channel: user-limited (`#` then the user id), so only that user may
 * subscribe to it, in a namespace where any authenticated client may publish.
 *
 * Why client-side publish rather than the server API: Centrifugo's own advice for a chat is
 * that messages go through the application's backend, which checks and stores them and then
 * publishes with the server API. This benchmark has no application backend to put in front
 * (the chat cluster's node is that backend), and a bare API call from the load generator
 * would measure a path with no sender connection at all. Client publish is what a new user
 * wiring up direct messages without a backend does: the sender's own authenticated
 * connection publishes into the recipient's personal channel, and the publish reply is the
 * ack (with history, it comes once the publication is in the Redis history stream). That is
 * the same path as the chat node's and the Socket.IO peer's: sender socket → server →
 * (Redis) → recipient socket.
 */
const NAMESPACE = 'dm';
/**
 * Scenario 3's groups: a channel each, which any authenticated client may subscribe to (the
 * join) and publish into. A channel needs no creating: it exists while someone subscribes.
 */
const GROUP_NAMESPACE = 'grp';

export function personalChannel(user: string): string {
  return `${NAMESPACE}:#${user}`;
}

function groupChannel(group: string): string {
  return `${GROUP_NAMESPACE}:${group}`;
}

function channelOf(to: SendTarget): string {
  return 'user' in to ? personalChannel(to.user) : groupChannel(to.group);
}

export interface CentrifugoVariant {
  name: string;
  /** Keep history in Redis and let subscribers recover what they missed. */
  history: boolean;
}

export interface CentrifugoServers {
  variant: CentrifugoVariant;
  servers: { process: ServerProcess; port: number }[];
  secret: string;
}

/** The configuration of one Centrifugo server of the benchmark (Centrifugo v6's JSON format). */
function configOf(variant: CentrifugoVariant, port: number, redisUrl: string, redisPrefix: string, secret: string): Record<string, unknown> {
  const history = variant.history ? { history_size: 100, history_ttl: '300s', force_recovery: true } : {};
  return {
    log: { level: 'warn' },
    http_server: { address: '127.0.0.1', port },
    health: { enabled: true },
    // For scenario 2's memory figures: /metrics, and /debug/pprof/heap?gc=1 to force a GC first.
    prometheus: { enabled: true },
    debug: { enabled: true },
    usage_stats: { disabled: true },
    // The load generator connects with the Node.js ws client, which sends no Origin.
    client: { token: { hmac_secret_key: secret } },
    engine: { type: 'redis', redis: { address: [redisUrl], prefix: redisPrefix } },
    channel: {
      namespaces: [
        { name: NAMESPACE, allow_user_limited_channels: true, allow_publish_for_client: true, ...history },
        { name: GROUP_NAMESPACE, allow_subscribe_for_client: true, allow_publish_for_client: true, ...history },
      ],
    },
  };
}

/** Builds Centrifugo if need be and starts `count` servers on loopback sharing the Redis engine; resolves once all answer /health. */
export async function startCentrifugoServers(
  launcher: Launcher,
  variant: CentrifugoVariant,
  count: number,
  redisUrl: string,
  redisPrefix: string,
): Promise<CentrifugoServers> {
  const binary = await provisionCentrifugo();
  const secret = randomBytes(32).toString('hex');
  const servers: CentrifugoServers['servers'] = [];
  for (let index = 0; index < count; index++) {
    const port = await freePort();
    const name = `centrifugo-${variant.history ? 'history' : 'plain'}-${index}`;
    const configFile = launcher.path(`${name}.json`);
    writeFileSync(configFile, JSON.stringify(configOf(variant, port, redisUrl, redisPrefix, secret), null, 2));
    const server = await launcher.start(name, binary, ['--config', configFile], () => answersOk(`http://127.0.0.1:${port}/health`), { timeoutMs: 30_000 });
    servers.push({ process: server, port });
  }
  return { variant, servers, secret };
}

/** An HS256 connection token for `user`, as the application's backend would mint it. */
export function centrifugoToken(started: CentrifugoServers, user: string): Promise<string> {
  return new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(user).setExpirationTime('2h').sign(new TextEncoder().encode(started.secret));
}

export function centrifugoUrl(server: CentrifugoServers['servers'][number]): string {
  return `ws://127.0.0.1:${server.port}/connection/websocket`;
}

/** Centrifugo as a load target: an HS256 connection token per user, each user subscribed to its personal channel. */
export function centrifugoTarget(started: CentrifugoServers): LoadTarget {
  return {
    name: started.variant.name,
    nodeCount: started.servers.length,
    async open(user, node) {
      const server = started.servers[node % started.servers.length];
      if (server === undefined) throw new Error('no Centrifugo server to connect to');
      return CentrifugoLoadSocket.open(centrifugoUrl(server), user, await centrifugoToken(started, user));
    },
  };
}

/** Where a Centrifugo client resumes: its personal channel's stream position (none without history). */
export type CentrifugoPosition = StreamPosition | undefined;

/** How to open: recovering the personal channel from a position; handing frames to `onFrame` from the start. */
export interface CentrifugoOpenOptions {
  since?: CentrifugoPosition;
  /** A recovery's publications arrive before the open resolves: a handler set only then would miss them. */
  onFrame?: FrameHandler;
  timeoutMs?: number;
}

/**
 * A centrifuge-js client speaking the generator's frames: `send` → publish (its reply is the
 * ack); joining a group → subscribing to its channel; publications → message frames (those a
 * recovery brought marked `caughtUp`).
 * Creating a group subscribes nobody: the creator sends scenario 3's messages, and chat's
 * group messages skip the sender's socket.
 */
export class CentrifugoLoadSocket implements StormSocket<CentrifugoPosition> {
  onFrame: FrameHandler = () => undefined;
  /** Never called: Centrifugo's shutdown disconnects its clients with a code that asks them to reconnect. */
  onDrain: (reconnectAfterMs: number, at: number) => void = () => undefined;
  onEnd: (how: string, at: number) => void = () => undefined;
  /** The personal channel's stream position: where the subscribe left it, then its latest publication's. */
  private personalPosition: CentrifugoPosition;
  private personalRecovered = false;

  private constructor(
    private readonly client: Centrifuge,
    private readonly personal: string,
    private readonly timeoutMs: number,
  ) {
    let connected = false;
    client.on('connected', () => {
      connected = true;
    });
    // After a connect, either means the connection ended: the client is reconnecting (a
    // shutdown's code asks it to) or has given up.
    const ended = (context: { code: number; reason: string }): void => {
      if (connected) this.onEnd(`${context.code} ${context.reason}`, performance.now());
    };
    client.on('connecting', ended);
    client.on('disconnected', ended);
  }

  static async open(url: string, user: string, token: string, options: CentrifugoOpenOptions = {}): Promise<CentrifugoLoadSocket> {
    const { since, onFrame, timeoutMs = 10_000 } = options;
    // The official client in Node.js: ws as its WebSocket, no browser online/offline events.
    const client = new Centrifuge(url, { token, websocket: WebSocket, networkEventTarget: null, timeout: timeoutMs });
    const socket = new CentrifugoLoadSocket(client, personalChannel(user), timeoutMs);
    if (onFrame !== undefined) socket.onFrame = onFrame;
    client.connect();
    try {
      await socket.subscribe(socket.personal, since);
    } catch (error) {
      client.disconnect();
      throw new Error(`Centrifugo: ${user} on ${url}: ${error instanceof Error ? error.message : String(error)}`);
    }
    return socket;
  }

  get isOpen(): boolean {
    return this.client.state === State.Connected;
  }

  send(frame: Record<string, unknown>): void {
    const request = peerRequest(frame);
    const { ref } = request;
    const reply = (): void => {
      this.onFrame({ type: replyTo(request), ref }, performance.now());
    };
    const fail = (error: unknown): void => {
      const code = typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : 'unknown';
      this.onFrame({ type: 'error', code: `centrifugo_${code}`, ref }, performance.now());
    };
    if (request.kind === 'send') this.client.publish(channelOf(request.to), { text: request.text }).then(reply, fail);
    else if (request.kind === 'join') this.subscribe(groupChannel(request.group)).then(reply, fail);
    else queueMicrotask(reply);
  }

  /** Recovery came with the subscribe (its publications right after it): says whether Centrifugo recovered all that was missed. */
  catchUp(): Promise<CatchUp> {
    return Promise.resolve({ pages: 0, complete: this.personalRecovered });
  }

  position(): CentrifugoPosition {
    return this.personalPosition;
  }

  /**
   * Subscribes to `channel` (recovering from `since`, when given), its publications becoming
   * message frames; resolves once subscribed. The personal channel's position is kept.
   */
  private async subscribe(channel: string, since?: CentrifugoPosition): Promise<void> {
    const personal = channel === this.personal;
    const subscription = this.client.newSubscription(channel, since === undefined ? {} : { since });
    // centrifuge-js hands over a recovery's publications synchronously right after the
    // 'subscribed' event (whose position is the one recovered from, not the stream's top):
    // what arrives before the next microtask is what the recovery brought.
    let recovering = false;
    subscription.on('subscribed', (context: SubscribedContext) => {
      if (context.wasRecovering) {
        recovering = true;
        queueMicrotask(() => {
          recovering = false;
        });
      }
      if (!personal) return;
      this.personalPosition = context.streamPosition;
      this.personalRecovered = context.recovered;
    });
    subscription.on('publication', (context: PublicationContext) => {
      const { offset } = context;
      if (personal && offset !== undefined && this.personalPosition !== undefined && offset > this.personalPosition.offset) {
        this.personalPosition = { ...this.personalPosition, offset };
      }
      const data = context.data as { text?: unknown } | null;
      this.onFrame({ type: 'message', text: data?.text, caughtUp: recovering }, performance.now());
    });
    subscription.subscribe();
    try {
      await subscription.ready(this.timeoutMs);
    } catch (error) {
      throw new Error(`not subscribed to ${channel} within ${this.timeoutMs} ms: ${JSON.stringify(error)}`);
    }
  }

  close(): Promise<void> {
    this.client.disconnect();
    return Promise.resolve();
  }
}
