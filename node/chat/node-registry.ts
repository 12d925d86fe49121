import type { Logger } from '../../common/log.js';
import type { Bus } from '../bus/bus.js';
import type { SessionRecord, Store } from '../store/store.js';
import type { Delivery } from './delivery.js';
import type { LocalSockets } from './local-sockets.js';
import type { PresenceHub } from './presence.js';
import { finishUnsettledMessages } from './recovery.js';
import { beatsPerRefreshRound, refreshShare, SESSION_TTL_SECONDS } from './session-refresh.js';

const REASSERT_RETRY_MS = 1_000;
/** How often a starting node asks again for the clean-up claim on its own id that a survivor holds. */
const CLAIM_RETRY_MS = 250;

export interface NodeRegistryDeps {
  nodeId: string;
  /** Where the operator reaches this node's admin port (`host:port`). */
  address: string;
  store: Store;
  bus: Bus;
  log: Logger;
  sockets: LocalSockets;
  delivery: Delivery;
  presence: PresenceHub;
  clock: () => number;
  /** How often the node heartbeats; a node silent for three beats is presumed dead. */
  heartbeatMs: number;
  /** Called on every beat, so the dependency gauges stay current whether or not anything probes readiness. */
  onBeat: () => void;
}

/**
 * This node's membership of the cluster: its registry row and bus heartbeat, the TTL of
 * its sockets' mapping rows, clean-up after nodes whose heartbeat lapsed, and its routes
 * written again when the bus lost its server.
 */
export class NodeRegistry {
  private readonly startedAt: number;
  private timer: NodeJS.Timeout | undefined;
  private beats = 0;
  /** Where the next beat's share of mapping rows to write again starts (refreshShare). */
  private refreshCursor = 0;
  private registered = false;
  /** Counts route re-assertions, so only the newest retries. */
  private reassertions = 0;
  private reassertTimer: NodeJS.Timeout | undefined;

  constructor(private readonly deps: NodeRegistryDeps) {
    this.startedAt = deps.clock();
  }

  /** A node silent for this long is presumed dead. */
  get nodeTtlSeconds(): number {
    return Math.ceil((this.deps.heartbeatMs * 3) / 1000);
  }

  /** How long a socket's mapping row outlives its last refresh. */
  get sessionTtlSeconds(): number {
    return SESSION_TTL_SECONDS;
  }

  get isRegistered(): boolean {
    return this.registered;
  }

  /**
   * The first beat, before the node takes part in the cluster's progress, and one every
   * heartbeatMs from then on: while it forgets a previous life, which can take longer than a
   * heartbeat's lapse, survivors must not take it for dead.
   */
  async announce(): Promise<void> {
    await this.beat();
    this.timer = setInterval(() => {
      void this.beat();
    }, this.deps.heartbeatMs);
    this.timer.unref();
  }

  /** Registered from now on. */
  join(): void {
    this.registered = true;
  }

  stopBeating(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    clearTimeout(this.reassertTimer);
  }

  /**
   * Leaves the registry with all of this node's routes and mapping rows at once, and tells
   * watchers who is offline now; the heartbeat is left to lapse. A draining node's sockets
   * leave it this way, not one by one: thousands closing together each took a Cassandra
   * delete and a few Redis commands in the same moment, and most of those timed out.
   */
  async leave(): Promise<void> {
    if (!this.registered) return;
    this.registered = false;
    const { store, bus, log, nodeId, presence } = this.deps;
    // The heartbeat is left to lapse rather than removed: once it has, a survivor cleans up
    // after this node again, catching a route re-added by work still in flight here.
    const results = await Promise.allSettled([bus.routes.removeNode(nodeId, announceOffline(presence)), store.deleteSessionsOnNode(nodeId), store.deleteNode(nodeId)]);
    for (const result of results) {
      if (result.status === 'rejected') log.warn({ err: result.reason }, 'could not fully deregister; survivors will once the heartbeat lapses');
    }
  }

  sessionRecord(user: string, session: string): SessionRecord {
    return { user, node: this.deps.nodeId, session };
  }

  /**
   * Refreshes the heartbeat, the registry row and the TTL of this node's mapping rows (every
   * third beat), and cleans up after nodes whose heartbeat lapsed. Peers judge liveness by
   * the bus heartbeat alone, so it is written whether or not the store answers: a node cut
   * off from Cassandra for a while still holds its sockets, and a peer that took it for dead
   * would remove its routes for good.
   */
  private async beat(): Promise<void> {
    const { bus, log, nodeId } = this.deps;
    this.beats += 1;
    this.deps.onBeat();
    const results = await Promise.allSettled([bus.heartbeats.beat(nodeId, this.nodeTtlSeconds), this.refreshRegistry()]);
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

  /** The store side of a heartbeat: the registry row, and this beat's share of the mapping rows written again (their TTL renewed). */
  private async refreshRegistry(): Promise<void> {
    const { store, sockets } = this.deps;
    await store.putNode({
      id: this.deps.nodeId,
      address: this.deps.address,
      startedAt: this.startedAt,
      heartbeatAt: this.deps.clock(),
      connections: sockets.connectionCount,
    });
    const { share, next } = refreshShare(sockets.all(), this.refreshCursor, beatsPerRefreshRound(this.deps.heartbeatMs));
    this.refreshCursor = next;
    await Promise.all(share.map((connection) => store.putSession(this.sessionRecord(connection.user, connection.session), this.sessionTtlSeconds)));
  }

  /**
   * Forgets what a previous life of this node id left behind: its routes, group entries and
   * mapping rows, as a survivor does for a dead node (removeSessionsOf), telling watchers who
   * went offline. A container restarted in its pod (after an OOM kill) keeps the pod's name,
   * and its heartbeat never lapses, so no survivor cleans up after the life before; without
   * this its users stayed online for good. Called before the node takes sockets.
   */
  async forgetPreviousLife(): Promise<void> {
    await this.removeSessionsOf(this.deps.nodeId);
  }

  /**
   * Takes the clean-up claim on this node's own id before this life writes anything, and
   * resolves with its token. A survivor that found the previous life dead (a container
   * restarted after its heartbeat lapsed) may hold it, and would remove this life's routes,
   * watermark and inbox with the previous life's: this life waits until it is done (or the
   * claim lapses, should the survivor die). Held until `releasePreviousLife`.
   */
  async claimPreviousLife(): Promise<string> {
    const { bus, log, nodeId } = this.deps;
    let told = false;
    for (;;) {
      const token = await bus.heartbeats.claimOwnCleanup(nodeId, this.nodeTtlSeconds);
      if (token !== undefined) return token;
      if (!told) log.info('another node is cleaning up after this node id’s previous life; waiting until it is done');
      told = true;
      await new Promise((resolve) => setTimeout(resolve, CLAIM_RETRY_MS));
    }
  }

  /** This life has forgotten the previous one: survivors may claim this node id again (once its heartbeat lapses). */
  async releasePreviousLife(token: string): Promise<void> {
    await this.deps.bus.heartbeats.releaseCleanup(this.deps.nodeId, token);
  }

  /** Any live node removes a dead node's mapping rows, routes and inbox; one wins the claim. */
  private async removeDeadNodes(): Promise<void> {
    const { bus } = this.deps;
    for (const dead of await bus.heartbeats.expired()) {
      if (dead === this.deps.nodeId) continue;
      const claim = await bus.heartbeats.claimCleanup(dead, this.nodeTtlSeconds);
      if (claim === undefined) continue;
      // Finishing a dead node's messages can take longer than the claim lasts: it is renewed
      // all along, and the last renewal before the removals must still hold.
      const renewing = setInterval(() => {
        bus.heartbeats.keepCleanup(dead, claim, this.nodeTtlSeconds).catch(() => undefined);
      }, (this.nodeTtlSeconds * 1000) / 3);
      renewing.unref();
      try {
        await this.cleanUpAfter(dead, claim);
      } finally {
        clearInterval(renewing);
        // A next life of the node waits for this claim: done or failed, it need not wait for it to lapse.
        await bus.heartbeats.releaseCleanup(dead, claim).catch(() => undefined);
      }
    }
  }

  /**
   * Removes a dead node's sessions and finishes its messages in flight, then, if the claim is
   * still this node's and the dead node has not come back meanwhile (finishing its messages
   * can outlast the claim), its watermark, inbox, registry row and heartbeat.
   */
  private async cleanUpAfter(dead: string, claim: string): Promise<void> {
    const { store, bus, log, delivery } = this.deps;
    log.info({ deadNode: dead }, 'removing a dead node’s sessions and routes');
    await this.removeSessionsOf(dead);
    const unsettled = await finishUnsettledMessages(dead, { bus, store, delivery });
    if (unsettled.length > 0) log.info({ deadNode: dead, messages: unsettled.length }, 'routed the messages a dead node left in flight');
    if (!(await bus.heartbeats.keepCleanup(dead, claim, this.nodeTtlSeconds))) {
      log.info({ deadNode: dead }, 'stopped cleaning up after a node: it is back, or another node took over');
      return;
    }
    await bus.progress.forget(dead);
    await bus.inbox.remove(dead);
    await store.deleteNode(dead);
    await bus.heartbeats.forget(dead);
  }

  /** Removes every route, group entry and mapping row of a node that is gone, telling watchers of the users now offline. */
  private async removeSessionsOf(node: string): Promise<void> {
    const { store, bus, presence } = this.deps;
    await bus.routes.removeNode(node, announceOffline(presence));
    await store.deleteSessionsOnNode(node);
  }

  /**
   * After the bus lost its server (a restarted Redis may have lost everything; a failover
   * may have lost the newest writes): write this node's heartbeat and routes again. A
   * failover can still be under way when the bus first answers, so a failed attempt is
   * tried again every second until one succeeds or a newer loss starts over.
   */
  async reassertRoutes(): Promise<void> {
    const attempt = ++this.reassertions;
    clearTimeout(this.reassertTimer);
    const { bus, log, sockets, nodeId } = this.deps;
    try {
      await bus.heartbeats.beat(nodeId, this.nodeTtlSeconds);
      await Promise.all(sockets.all().map((connection) => bus.routes.addSession(this.sessionRecord(connection.user, connection.session))));
      await Promise.all(sockets.hostedGroups().map((group) => bus.routes.addGroupNode(group, nodeId)));
      log.info({ sockets: sockets.connectionCount }, 'routes written again after the bus reconnected');
    } catch (error) {
      if (attempt !== this.reassertions || this.timer === undefined) return;
      log.warn({ err: error, retryInMs: REASSERT_RETRY_MS }, 'could not write routes after the bus reconnected');
      this.reassertTimer = setTimeout(() => void this.reassertRoutes(), REASSERT_RETRY_MS);
      this.reassertTimer.unref();
    }
  }
}

/** Tells watchers that these users went offline, as a node's routes are removed. */
function announceOffline(presence: PresenceHub): (users: readonly string[]) => Promise<void> {
  return async (users) => {
    await Promise.all(users.map((user) => presence.announce(user, 'offline')));
  };
}
