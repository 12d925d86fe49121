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
import { NodeRegistry } from './node-registry.js';
import { finishUnsettledMessages } from './recovery.js';
import { reconnectDelays } from './routing.js';
import { SharedAttempts } from './shared-attempts.js';
import { SocketCursors } from './socket-cursors.js';
import { UnsettledAppends } from './unsettled-appends.js';

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
  /** HTTP sends stored and waiting to be routed, at most; past it they are refused (`unavailable`). */
  maxBackgroundRoutings?: number;
}

/**
 * HTTP sends a node holds stored and not yet routed, at most: during a Redis outage they wait
 * (with their texts) until the bus is back, and past this a send is refused rather than
 * taking the node's memory.
 */
const MAX_BACKGROUND_ROUTINGS = 10_000;

/** A place taken for one HTTP send's routing (ChatNode.reserveBackgroundRouting). */
export interface BackgroundRouting {
  /** Routes the acked send after the user's earlier ones; the place is given back when it ends. */
  route(user: string, route: () => Promise<void>): void;
  /** Gives the place back: the send failed, or needs no routing. */
  cancel(): void;
}

/** How long a drain waits for its sockets' own teardown before doing it for them. */
const DRAIN_CLOSE_WAIT_MS = 5000;

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
  private readonly unsettled: UnsettledAppends;
  private readonly clock: () => number;
  private readonly registry: NodeRegistry;
  private subscriptions: Unsubscribe[] = [];
  /** Per user, the last of their HTTP sends' routings: each waits for the one before. */
  private readonly backgroundRoutings = new Map<string, Promise<void>>();
  private backgroundRoutingsPending = 0;
  /** Per user with sockets here, the read and hosting of their groups, which each of their sockets waits for. */
  private readonly groupsHosted = new SharedAttempts<string>();
  private draining = false;

  private readonly options: ChatNodeOptions;

  constructor(given: ChatNodeOptions) {
    this.metrics = given.metrics ?? new NodeMetrics();
    // Every store call is timed here, once, for all the chat logic below.
    const options = { ...given, store: timedStore(given.store, (operation, call) => this.metrics.timeStore(operation, call)) };
    this.options = options;
    this.nodeId = options.nodeId;
    this.clock = options.clock ?? Date.now;
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
    this.unsettled = new UnsettledAppends({
      log: options.log,
      waiting: (count) => {
        this.metrics.storeWritesRetrying.set(count);
      },
    });
    this.operations = new ChatOperations({
      ...common,
      delivery: this.delivery,
      inFlight: this.inFlight,
      progress: this.progress,
      unsettled: this.unsettled,
      limits: options.limits,
    });
    this.presence = new PresenceHub(options.bus);
    this.registry = new NodeRegistry({
      ...common,
      address: options.address,
      log: options.log,
      sockets: this.sockets,
      delivery: this.delivery,
      presence: this.presence,
      heartbeatMs: options.heartbeatMs ?? 5000,
      onBeat: () => void this.checkDependencies(),
    });
  }

  /** Registers the node, starts consuming its inbox and heartbeating. */
  async start(): Promise<void> {
    const { bus } = this.options;
    const previousLife = await this.registry.claimPreviousLife();
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
      void this.registry.reassertRoutes();
    });
    await this.registry.announce();
    // A previous life of this node id (a restarted container) may have left sockets' routes
    // and messages in flight. Its routes go before this life adds any. Its messages are routed
    // before joining, since joining replaces the watermark that holds cursors below them. The
    // claim taken first keeps survivors from doing the same meanwhile, to this life's state.
    await this.registry.forgetPreviousLife();
    const previous = await finishUnsettledMessages(this.nodeId, { bus, store: this.options.store, delivery: this.delivery });
    for (const id of previous) this.progress.finished(id);
    await this.registry.releasePreviousLife(previousLife);
    await this.progress.join();
    this.progress.start();
    this.registry.join();
  }

  /** Brings a new authenticated socket into the cluster: mapping row, route, groups, presence. */
  async connect(connection: ClientConnection): Promise<void> {
    if (this.draining) throw new ChatError('unavailable', 'this node is draining');
    const { store } = this.options;
    const session = this.sessionRecord(connection);
    this.sockets.add(connection);
    this.metrics.connections.set(this.sockets.connectionCount);
    // The mapping row is written while the route goes in and the groups are hosted (a failure
    // removes whatever was written, and a dead node's clean-up finds each by its own index).
    const registration = [store.putSession(session, this.registry.sessionTtlSeconds), this.routeThenGroups(session)] as const;
    try {
      await Promise.all(registration);
    } catch (error) {
      // Every write has ended before the clean-up starts, so none lands after it.
      await Promise.allSettled(registration);
      await this.disconnect(connection);
      throw error;
    }
  }

  /**
   * Adds the socket's route, then waits until its user's groups are hosted here. In that
   * order: a join answered on another node meanwhile was then either stored before the
   * groups read, or found a route of the user on this node, advertised this node for the
   * group and told it through its inbox. Read at once with the route, a join could miss
   * both, and the socket would get none of the group's messages until the user reconnected.
   * Every socket of the user waits for the same read (started once one route is in), so
   * none says hello before the groups are hosted, whichever socket's registration fails.
   */
  private async routeThenGroups(session: SessionRecord): Promise<void> {
    // Announced as soon as the route is in, whatever becomes of this registration: should it
    // fail, its clean-up announces `offline` after this if the user has no other socket, and
    // if they have, no other registration would announce them online.
    if (await this.options.bus.routes.addSession(session)) this.announceOnline(session.user);
    await this.groupsHosted.run(session.user, () => this.hostGroupsOf(session.user));
  }

  /** Reads the user's groups and hosts them here, but those the user left while the read was on its way. */
  private async hostGroupsOf(user: string): Promise<void> {
    const read = this.sockets.startGroupsRead(user);
    const answered = await this.options.store.groupsOf(user).catch((error: unknown) => {
      read.finish([]);
      throw error;
    });
    // The user's last socket may have gone meanwhile (a drain closes sockets still registering): nothing to host for.
    const groups = read.finish(this.sockets.hasUser(user) ? answered : []);
    // hostGroup records each group before its first await, so no leave comes between.
    await Promise.all(groups.map((group) => this.delivery.hostGroup(user, group)));
  }

  /**
   * Watchers' news, not part of the registration: the hello does not wait a round trip for
   * it. It leaves on the bus's publishing connection ahead of any later `offline`. Should it
   * fail (the bus is away), watchers see the user offline until their next change or until
   * they watch again (presence.watch reads the routes), as with any pub/sub message lost.
   */
  private announceOnline(user: string): void {
    this.presence.announce(user, 'online').catch((error: unknown) => {
      this.options.log.warn({ err: error, user }, 'could not announce a user online');
    });
  }

  /**
   * Takes a closed socket out of the cluster. Best effort, the mapping row and the route each
   * on their own: a row left behind expires with its TTL, but nothing expires a route, which
   * would keep the user online (and this node in their groups' routes) for good. Until a
   * draining node has left, its sockets leave only the node: it leaves the cluster with all
   * of them at once (NodeRegistry.leave), and its bus subscriptions end with it. A socket
   * whose registration ended after that cleans up after itself.
   */
  async disconnect(connection: ClientConnection): Promise<void> {
    const { store, log } = this.options;
    const lastHere = this.sockets.remove(connection);
    this.metrics.connections.set(this.sockets.connectionCount);
    const unhosted = lastHere ? this.sockets.forgetGroupsOf(connection.user) : [];
    // The user's next socket here reads and hosts their groups afresh.
    if (lastHere) this.groupsHosted.forget(connection.user);
    if (this.draining && this.registry.isRegistered) {
      this.presence.drop(connection);
      return;
    }
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
    await Promise.all(unhostedGroups.map((group) => this.delivery.withdrawGroup(group)));
    if (wentOffline) await this.presence.announce(connection.user, 'offline');
  }

  /**
   * Takes a place for one HTTP send's routing before the send is stored, or refuses it with
   * `unavailable`: while the node drains (it would be routed late, by a survivor, once this
   * node is gone) or while too many stored sends wait for the bus already. A refused send was
   * not stored, so its client simply sends it again. The place is given back when the
   * routing ends, or with `cancel` when the send fails.
   */
  reserveBackgroundRouting(): BackgroundRouting {
    if (this.draining) throw new ChatError('unavailable', 'this node is draining; send through the load balancer');
    const limit = this.options.maxBackgroundRoutings ?? MAX_BACKGROUND_ROUTINGS;
    if (this.backgroundRoutingsPending >= limit) {
      throw new ChatError('unavailable', `${limit} sent messages are waiting to be routed (the bus is away); retry with the same idem shortly`);
    }
    this.backgroundRoutingsPending += 1;
    let held = true;
    const giveBack = (): void => {
      if (held) this.backgroundRoutingsPending -= 1;
      held = false;
    };
    return {
      route: (user, route) => {
        void this.routeAfterEarlier(user, route).finally(giveBack);
      },
      cancel: giveBack,
    };
  }

  /**
   * Routes an acked message with no socket to chain it to (an HTTP send), after `user`'s
   * earlier ones, so they arrive live in the order they were acked, as a socket's do. Routing
   * retries while the bus is away, and the message stays in flight until it is routed, so a
   * drain waits for it and a survivor finishes it should this node die first. It never
   * rejects: a fault of its own is logged here.
   */
  private routeAfterEarlier(user: string, route: () => Promise<void>): Promise<void> {
    const routed: Promise<void> = (this.backgroundRoutings.get(user) ?? Promise.resolve())
      .then(route)
      .catch((error: unknown) => {
        this.options.log.error({ err: error }, 'could not route a stored message');
      })
      .finally(() => {
        if (this.backgroundRoutings.get(user) === routed) this.backgroundRoutings.delete(user);
      });
    this.backgroundRoutings.set(user, routed);
    return routed;
  }

  /** Ready to take sockets: registered, not draining, store and bus answering. */
  async isReady(): Promise<boolean> {
    if (!this.registry.isRegistered || this.draining) return false;
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
    await this.registry.leave();
  }

  /** Stops timers and consumers and leaves the registry (for a drained or failing node). */
  async stop(): Promise<void> {
    this.registry.stopBeating();
    this.unsettled.stop();
    this.delivery.stop();
    await this.progress.stop(true).catch((error: unknown) => {
      this.options.log.warn({ err: error }, 'could not leave the watermarks; survivors will once the heartbeat lapses');
    });
    // Each is settled, not awaited together: an unsubscribe fails while Redis is down, and
    // the node must still leave and let its process close its servers and exit.
    const unsubscribed = await Promise.allSettled(this.subscriptions.map((unsubscribe) => unsubscribe()));
    this.subscriptions = [];
    for (const result of unsubscribed) {
      if (result.status === 'rejected') this.options.log.warn({ err: result.reason }, 'could not end a bus subscription; it ends with the bus connection');
    }
    await this.registry.leave();
  }

  private sessionRecord(connection: ClientConnection): SessionRecord {
    return this.registry.sessionRecord(connection.user, connection.session);
  }
}
