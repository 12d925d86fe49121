import type { Logger } from '../../common/log.js';
import type { Bus, Unsubscribe } from '../bus/bus.js';
import { NodeMetrics } from '../metrics.js';
import { CLOSE_GOING_AWAY } from '../protocol/close-codes.js';
import { ChatError } from '../protocol/errors.js';
import type { SessionRecord, Store } from '../store/store.js';
import { timedStore } from '../store/timed-store.js';
import { Delivery } from './delivery.js';
import { InFlightMessages } from './in-flight.js';
import { LocalSockets, type ClientConnection } from './local-sockets.js';
import { ChatOperations } from './operations.js';
import { PresenceHub } from './presence.js';
import { ClusterProgress } from './progress.js';
import { finishUnsettledMessages } from './recovery.js';
import { reconnectDelays } from './routing.js';
import { SocketCursors } from './socket-cursors.js';

export interface ChatNodeOptions {
  nodeId: string;
  /** Where the operator reaches this node's admin port (`host:port`), for the registry. */
  address: string;
  store: Store;
  bus: Bus;
  log: Logger;
  limits: { maxTextBytes: number; messagesPerSecondPerUser: number };
  metrics?: NodeMetrics;
  clock?: () => number;
  /** How often the node heartbeats; a node silent for three beats is presumed dead. */
  heartbeatMs?: number;
  /** How often watermarks are exchanged (ClusterProgress). */
  progressTickMs?: number;
  /** What `chat_dependency_up` calls the store and the bus (`cassandra`, `redis` in a cluster). */
  dependencyNames?: { store: string; bus: string };
}

/** How long a drain waits for its sockets' own teardown before doing it for them. */
const DRAIN_CLOSE_WAIT_MS = 5000;
/** Mapping rows refreshed at once by the heartbeat. */
const SESSION_REFRESH_BATCH = 128;

/**
 * One chat node: its sockets, its registration in the cluster, and the wiring from its
 * inbox to its sockets. Sockets and HTTP requests reach it through `operations`.
 */
export class ChatNode {
  readonly sockets = new LocalSockets();
  readonly cursors = new SocketCursors();
  readonly metrics: NodeMetrics;
  readonly operations: ChatOperations;
  readonly presence: PresenceHub;
  readonly nodeId: string;
  private readonly delivery: Delivery;
  private readonly inFlight = new InFlightMessages();
  private readonly progress: ClusterProgress;
  private readonly clock: () => number;
  private readonly heartbeatMs: number;
  private readonly startedAt: number;
  private subscriptions: Unsubscribe[] = [];
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private beats = 0;
  private registered = false;
  private draining = false;

  private readonly options: ChatNodeOptions;

  constructor(given: ChatNodeOptions) {
    this.metrics = given.metrics ?? new NodeMetrics();
    // Every store call is timed here, once, for all the chat logic below.
    const options = { ...given, store: timedStore(given.store, (operation, call) => this.metrics.timeStore(operation, call)) };
    this.options = options;
    this.nodeId = options.nodeId;
    this.clock = options.clock ?? Date.now;
    this.heartbeatMs = options.heartbeatMs ?? 5000;
    this.startedAt = this.clock();
    const common = { nodeId: options.nodeId, store: options.store, bus: options.bus, metrics: this.metrics, clock: this.clock };
    this.progress = new ClusterProgress({
      ...common,
      inFlight: this.inFlight,
      log: options.log,
      ...(options.progressTickMs === undefined ? {} : { tickMs: options.progressTickMs }),
      onStateLost: () => {
        this.cursors.capAll(this.sockets.all(), this.progress.deliveredFloor);
      },
    });
    this.delivery = new Delivery({
      ...common,
      sockets: this.sockets,
      log: options.log,
      cursorFor: (connection) => this.cursors.cursorFor(connection, this.progress.deliveredFloor),
    });
    this.operations = new ChatOperations({
      ...common,
      delivery: this.delivery,
      inFlight: this.inFlight,
      progress: this.progress,
      limits: options.limits,
    });
    this.presence = new PresenceHub(options.bus);
  }

  private get nodeTtlSeconds(): number {
    return Math.ceil((this.heartbeatMs * 3) / 1000);
  }

  private get sessionTtlSeconds(): number {
    return Math.max(30, this.nodeTtlSeconds * 4);
  }

  /** Registers the node, starts consuming its inbox and heartbeating. */
  async start(): Promise<void> {
    const { bus } = this.options;
    await this.presence.start();
    this.subscriptions.push(
      await bus.inbox.consume(this.nodeId, (envelope) => {
        if (envelope.kind !== 'watermark') {
          this.progress.touch();
          return this.delivery.handleEnvelope(envelope);
        }
        this.progress.reached(envelope.value);
        return Promise.resolve();
      }),
      await bus.signals.subscribe(this.nodeId, (signal) => {
        this.delivery.handleSignal(signal);
      }),
    );
    bus.onReconnect(() => {
      void this.reassertRoutes();
    });
    await this.heartbeat();
    // A previous life of this node id may have died with messages in flight: route them
    // before joining, since joining replaces the watermark that holds cursors below them.
    const previous = await finishUnsettledMessages(this.nodeId, { bus, store: this.options.store, delivery: this.delivery });
    for (const id of previous) this.progress.finished(id);
    await this.progress.join();
    this.progress.start();
    this.registered = true;
    this.heartbeatTimer = setInterval(() => {
      void this.heartbeat();
    }, this.heartbeatMs);
    this.heartbeatTimer.unref();
  }

  /** Brings a new authenticated socket into the cluster: mapping row, route, groups, presence. */
  async connect(connection: ClientConnection): Promise<void> {
    if (this.draining) throw new ChatError('unavailable', 'this node is draining');
    const { store, bus } = this.options;
    const session = this.sessionRecord(connection);
    const firstHere = this.sockets.add(connection);
    this.metrics.connections.set(this.sockets.connectionCount);
    try {
      await store.putSession(session, this.sessionTtlSeconds);
      const cameOnline = await bus.routes.addSession(session);
      if (firstHere) {
        const groups = await store.groupsOf(connection.user);
        await Promise.all(groups.map((group) => this.delivery.hostGroup(connection.user, group)));
      }
      if (cameOnline) await this.presence.announce(connection.user, 'online');
    } catch (error) {
      await this.disconnect(connection);
      throw error;
    }
  }

  /**
   * Takes a closed socket out of the cluster. Best effort, the mapping row and the route each
   * on their own: a row left behind expires with its TTL, but nothing expires a route, which
   * would keep the user online (and this node in their groups' routes) for good.
   */
  async disconnect(connection: ClientConnection): Promise<void> {
    const { store, log } = this.options;
    const lastHere = this.sockets.remove(connection);
    this.metrics.connections.set(this.sockets.connectionCount);
    const unhosted = lastHere ? this.sockets.forgetGroupsOf(connection.user) : [];
    const session = this.sessionRecord(connection);
    const results = await Promise.allSettled([store.deleteSession(session), this.removeRoute(connection, session, unhosted)]);
    for (const result of results) {
      if (result.status === 'fulfilled') continue;
      log.warn({ err: result.reason, user: connection.user, session: connection.session }, 'could not fully remove a closed session');
    }
  }

  /** The bus side of a closed socket: presence watches, the route, the groups it no longer hosts. */
  private async removeRoute(connection: ClientConnection, session: SessionRecord, unhostedGroups: readonly string[]): Promise<void> {
    const { bus } = this.options;
    await this.presence.forget(connection);
    const wentOffline = await bus.routes.removeSession(session);
    await Promise.all(unhostedGroups.map((group) => bus.routes.removeGroupNode(group, this.nodeId)));
    if (wentOffline) await this.presence.announce(connection.user, 'offline');
  }

  /** Ready to take sockets: registered, not draining, store and bus answering. */
  async isReady(): Promise<boolean> {
    if (!this.registered || this.draining) return false;
    const { store, bus } = await this.checkDependencies();
    return store && bus;
  }

  /** Asks the store and the bus whether they answer, and records it in `chat_dependency_up`. */
  private async checkDependencies(): Promise<{ store: boolean; bus: boolean }> {
    const [store, bus] = await Promise.all([
      this.options.store.isHealthy().catch(() => false),
      this.options.bus.isHealthy().catch(() => false),
    ]);
    const names = this.options.dependencyNames ?? { store: 'store', bus: 'bus' };
    this.metrics.dependencyUp.set({ dependency: names.store }, store ? 1 : 0);
    this.metrics.dependencyUp.set({ dependency: names.bus }, bus ? 1 : 0);
    return { store, bus };
  }

  get isDraining(): boolean {
    return this.draining;
  }

  /** What `/load` reports to the operator. */
  load(): { node: string; connections: number; draining: boolean } {
    return { node: this.nodeId, connections: this.sockets.connectionCount, draining: this.draining };
  }

  /**
   * Leaves the cluster gracefully: stops taking sockets, tells each client when to
   * reconnect (spread over `spreadMs`), closes them, then deregisters. Acked messages are
   * already durable, so nothing is lost.
   */
  async drain(spreadMs: number): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    const connections = this.sockets.all();
    const delays = reconnectDelays(connections.length, spreadMs);
    connections.forEach((connection, index) => {
      connection.send({ type: 'drain', reconnectAfterMs: delays[index] ?? 0 });
    });
    // Give the frames a moment to leave before the close frames follow.
    await new Promise((resolve) => setTimeout(resolve, 100));
    for (const connection of connections) connection.close(CLOSE_GOING_AWAY, 'node draining');
    // Each socket takes itself out of the cluster as it closes; a client that does not answer
    // the close in time is taken out here, so the drain ends within the grace period.
    const deadline = Date.now() + DRAIN_CLOSE_WAIT_MS;
    while (this.sockets.connectionCount > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    await Promise.all(this.sockets.all().map((connection) => this.disconnect(connection)));
    // Acked messages still being routed (a bus blip) are finished here if they can be, or left recorded for a survivor.
    while (this.inFlight.inFlight > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    await this.deregister();
  }

  /** Stops timers and consumers and leaves the registry (for a drained or failing node). */
  async stop(): Promise<void> {
    if (this.heartbeatTimer !== undefined) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
    this.delivery.stop();
    await this.progress.stop(true).catch((error: unknown) => {
      this.options.log.warn({ err: error }, 'could not leave the watermarks; survivors will once the heartbeat lapses');
    });
    await Promise.all(this.subscriptions.map((unsubscribe) => unsubscribe()));
    this.subscriptions = [];
    await this.deregister();
  }

  private async deregister(): Promise<void> {
    if (!this.registered) return;
    this.registered = false;
    const { store, bus, log } = this.options;
    // The heartbeat is left to lapse rather than removed: once it has, a survivor cleans up
    // after this node again, catching a route re-added by work still in flight here.
    await Promise.all([store.deleteNode(this.nodeId), bus.routes.removeNode(this.nodeId)]).catch((error: unknown) => {
      log.warn({ err: error }, 'could not fully deregister; survivors will once the heartbeat lapses');
    });
  }

  private sessionRecord(connection: ClientConnection): SessionRecord {
    return { user: connection.user, node: this.nodeId, session: connection.session };
  }

  /**
   * Refreshes the heartbeat, the registry row and the TTL of this node's mapping rows (every
   * third beat), and cleans up after nodes whose heartbeat lapsed. Peers judge liveness by
   * the bus heartbeat alone, so it is written whether or not the store answers: a node cut
   * off from Cassandra for a while still holds its sockets, and a peer that took it for dead
   * would remove its routes for good.
   */
  private async heartbeat(): Promise<void> {
    const { bus, log } = this.options;
    this.beats += 1;
    // The dependency gauges stay current whether or not anything probes readiness.
    void this.checkDependencies();
    const results = await Promise.allSettled([bus.heartbeats.beat(this.nodeId, this.nodeTtlSeconds), this.refreshRegistry()]);
    const failures = results.flatMap((result) => (result.status === 'rejected' ? [result.reason as unknown] : []));
    for (const error of failures) log.warn({ err: error }, 'heartbeat failed');
    // Cleaning up after a dead node takes both Redis and Cassandra.
    if (failures.length > 0) return;
    try {
      await this.removeDeadNodes();
    } catch (error) {
      log.warn({ err: error }, 'could not clean up after a dead node');
    }
  }

  /** The store side of a heartbeat: the registry row, and every third beat the mapping rows' TTL. */
  private async refreshRegistry(): Promise<void> {
    const { store } = this.options;
    await store.putNode({
      id: this.nodeId,
      address: this.options.address,
      startedAt: this.startedAt,
      heartbeatAt: this.clock(),
      connections: this.sockets.connectionCount,
    });
    if (this.beats % 3 === 0) {
      // A bounded number at a time: thousands of writes at once overflow the driver's
      // per-connection request limit and fail the heartbeat with them.
      const connections = this.sockets.all();
      for (let start = 0; start < connections.length; start += SESSION_REFRESH_BATCH) {
        await Promise.all(
          connections.slice(start, start + SESSION_REFRESH_BATCH).map((connection) => store.putSession(this.sessionRecord(connection), this.sessionTtlSeconds)),
        );
      }
    }
  }

  /** Any live node removes a dead node's mapping rows and routes; one wins the claim. */
  private async removeDeadNodes(): Promise<void> {
    const { store, bus, log } = this.options;
    for (const dead of await bus.heartbeats.expired()) {
      if (dead === this.nodeId || !(await bus.heartbeats.claimCleanup(dead, this.nodeTtlSeconds))) continue;
      log.info({ deadNode: dead }, 'removing a dead node’s sessions and routes');
      const wentOffline = await bus.routes.removeNode(dead);
      const unsettled = await finishUnsettledMessages(dead, { bus, store, delivery: this.delivery });
      if (unsettled.length > 0) log.info({ deadNode: dead, messages: unsettled.length }, 'routed the messages a dead node left in flight');
      await bus.progress.forget(dead);
      const sessions = await store.sessionsOnNode(dead);
      await Promise.all(sessions.map((session) => store.deleteSession(session)));
      await store.deleteNode(dead);
      await bus.heartbeats.forget(dead);
      await Promise.all(wentOffline.map((user) => this.presence.announce(user, 'offline')));
    }
  }

  /** After the bus lost its server (a restarted Redis may have lost everything): write this node's routes again. */
  private async reassertRoutes(): Promise<void> {
    const { bus, log } = this.options;
    try {
      await bus.heartbeats.beat(this.nodeId, this.nodeTtlSeconds);
      await Promise.all(this.sockets.all().map((connection) => bus.routes.addSession(this.sessionRecord(connection))));
      await Promise.all(this.sockets.hostedGroups().map((group) => bus.routes.addGroupNode(group, this.nodeId)));
      log.info({ sockets: this.sockets.connectionCount }, 'routes written again after the bus reconnected');
    } catch (error) {
      log.warn({ err: error }, 'could not write routes after the bus reconnected');
    }
  }
}
