import type { Logger } from '../../common/log.js';
import type { Bus, Envelope, Signal } from '../bus/bus.js';
import type { NodeMetrics } from '../metrics.js';
import { groupOfConversation } from '../protocol/conversations.js';
import type { ChatMessage, Target } from '../protocol/frames.js';
import type { SessionRecord, Store } from '../store/store.js';
import { EncodedFrame, type ClientConnection, type LocalSockets } from './local-sockets.js';
import { RecentSet } from '../recent-set.js';
import { groupFanOut, routeToNodes } from './routing.js';
import { SharedAttempts } from './shared-attempts.js';

export interface DeliveryDeps {
  nodeId: string;
  store: Store;
  bus: Bus;
  sockets: LocalSockets;
  metrics: NodeMetrics;
  log: Logger;
  clock: () => number;
  /** The cursor a live `message` frame to this socket carries (undefined: none yet). */
  cursorFor: (connection: ClientConnection) => string | undefined;
}

/** Pauses between attempts to reach other nodes' inboxes while the bus is away. */
const ROUTE_RETRY_MS = [100, 250, 500, 1000, 2000] as const;
/**
 * How many delivered message ids a node remembers to drop repeats. Routing is at least
 * once: a publish whose reply was lost when a Redis server died may have been applied, and
 * a survivor finishing a dead node's work routes its messages again. Repeats come within
 * seconds, far fewer than this, and dropping them lets a socket see each message once.
 */
const REMEMBERED_DELIVERIES = 20_000;

/**
 * Gets stored messages and typing signals to every socket that should see them: this
 * node's directly, other nodes' through their inboxes (one entry per node).
 */
export class Delivery {
  private stopped = false;
  private readonly delivered = new RecentSet(REMEMBERED_DELIVERIES);
  /** This node's entries in the groups' routes, written or being written. */
  private readonly advertised = new SharedAttempts<string>();

  constructor(private readonly deps: DeliveryDeps) {}

  /**
   * Routes a stored, acked message: to this node's sockets at once, to other nodes' inboxes
   * until that succeeds (a bus that is away is retried, so no recipient online through it
   * is skipped; a node whose inbox took it is not sent it again). Resolves true once
   * routed; false when the node stopped first, leaving the message to the survivor that
   * finishes this node's work.
   */
  async routeMessage(message: ChatMessage, acceptedAt: number, exceptSession?: string): Promise<boolean> {
    const to = message.to;
    // A direct message goes to both users' sockets: the sender's other sockets see it too.
    const localUsers = 'group' in to ? this.deps.sockets.membersOf(to.group) : [...new Set([to.user, message.from])];
    // A message routed again (a dead node's, finished by this one) may have reached this node's sockets already.
    if (this.delivered.add(message.id)) this.deliverLocally(message, localUsers, acceptedAt, exceptSession);
    const reached = new Set<string>();
    const routeRemotely = (): Promise<void> =>
      'group' in to
        ? this.routeGroupMessage(message, to.group, acceptedAt, exceptSession, reached)
        : this.routeDirectMessage(message, localUsers, acceptedAt, exceptSession, reached);
    for (let attempt = 0; !this.stopped; attempt++) {
      try {
        await routeRemotely();
        return true;
      } catch (error) {
        if (attempt === 0) this.deps.log.warn({ err: error, messageId: message.id }, 'cannot route a stored message yet; retrying');
        await new Promise((resolve) => setTimeout(resolve, ROUTE_RETRY_MS[Math.min(attempt, ROUTE_RETRY_MS.length - 1)]));
      }
    }
    return false;
  }

  /** Stops retrying routes (the node is stopping). */
  stop(): void {
    this.stopped = true;
  }

  /** Handles an entry of this node's inbox. */
  handleEnvelope(envelope: Envelope): Promise<void> {
    if (envelope.kind === 'watermark') return Promise.resolve();
    if (envelope.kind === 'membership') {
      return envelope.joined ? this.heardOfJoin(envelope.user, envelope.group) : this.unhostGroup(envelope.user, envelope.group);
    }
    this.deps.metrics.busLag.observe(Math.max(0, this.deps.clock() - envelope.acceptedAt) / 1000);
    if (!this.delivered.add(envelope.message.id)) {
      this.deps.metrics.duplicateEnvelopes.inc();
      return Promise.resolve();
    }
    const users = envelope.users ?? this.localMembers(envelope.message.to);
    this.deliverLocally(envelope.message, users, envelope.acceptedAt, envelope.exceptSession);
    return Promise.resolve();
  }

  /** Relays a typing indicator to the target's sockets (never stored, at most once). */
  async relayTyping(from: string, conv: string, to: Target, exceptSession: string): Promise<void> {
    const frame = { type: 'typing', from, conv } as const;
    if ('group' in to) {
      const { remote } = groupFanOut(await this.deps.bus.routes.groupNodes(to.group), this.deps.nodeId);
      this.deps.sockets.deliver(this.deps.sockets.membersOf(to.group), new EncodedFrame(frame), exceptSession);
      await Promise.all(remote.map((node) => this.deps.bus.signals.send(node, { kind: 'typing', from, conv })));
      return;
    }
    const plan = routeToNodes(await this.deps.bus.routes.sessionsOf(to.user));
    this.deps.sockets.deliver([to.user], frame, exceptSession);
    plan.delete(this.deps.nodeId);
    await Promise.all([...plan].map(([node, users]) => this.deps.bus.signals.send(node, { kind: 'typing', from, conv, users })));
  }

  /** Handles a signal sent to this node. */
  handleSignal(signal: Signal): void {
    const group = groupOfConversation(signal.conv);
    const users = signal.users ?? (group === undefined ? [] : this.deps.sockets.membersOf(group));
    this.deps.sockets.deliver(
      users.filter((user) => user !== signal.from),
      new EncodedFrame({ type: 'typing', from: signal.from, conv: signal.conv }),
    );
  }

  /**
   * Records that a locally connected user is in `group`, and resolves once this node is in the
   * group's route. Every member hosted here waits for that one write, not only the first: a
   * socket whose hello went out before it would miss the group's messages sent meanwhile, and
   * its cursor would later pass them. A failed write is tried again by the next member hosted.
   */
  async hostGroup(user: string, group: string): Promise<void> {
    // A first member means the node had stopped hosting the group: its old entry may be gone.
    if (this.deps.sockets.joinGroup(user, group)) this.advertised.forget(group);
    await this.advertised.run(group, () => this.deps.bus.routes.addGroupNode(group, this.deps.nodeId));
  }

  /** Takes this node out of `group`'s route, unless a member is hosted here again by now. */
  async withdrawGroup(group: string): Promise<void> {
    if (this.deps.sockets.membersOf(group).length > 0) return;
    this.advertised.forget(group);
    await this.deps.bus.routes.removeGroupNode(group, this.deps.nodeId);
  }

  /** Like hostGroup, for a user who may have no socket here (a join over HTTP). */
  private async hostGroupIfConnected(user: string, group: string): Promise<void> {
    if (this.deps.sockets.hasUser(user)) await this.hostGroup(user, group);
  }

  /**
   * Hears of a join made on another node, which advertised this node for the group on the
   * user's behalf: hosts the group here, or withdraws that advertisement when the user's
   * socket has gone meanwhile and no other member is here.
   */
  private async heardOfJoin(user: string, group: string): Promise<void> {
    if (this.deps.sockets.hasUser(user)) return this.hostGroup(user, group);
    await this.withdrawGroup(group);
  }

  private async unhostGroup(user: string, group: string): Promise<void> {
    if (this.deps.sockets.leaveGroup(user, group)) await this.withdrawGroup(group);
  }

  /**
   * Keeps group routing right after a join or leave while the user is online: this node
   * updates its own record, and every other node hosting a socket of the user hears of it
   * through its inbox. On a join this node also advertises those nodes for the group before
   * answering, so a message sent right after the join reaches all the user's sockets even
   * before their nodes have read the news; each reads it ahead of any such message, as both
   * arrive through its inbox in that order.
   */
  async announceMembership(user: string, group: string, joined: boolean): Promise<void> {
    await (joined ? this.hostGroupIfConnected(user, group) : this.unhostGroup(user, group));
    const nodes = new Set((await this.deps.bus.routes.sessionsOf(user)).map((session) => session.node));
    nodes.delete(this.deps.nodeId);
    if (joined) await Promise.all([...nodes].map((node) => this.deps.bus.routes.addGroupNode(group, node)));
    await Promise.all([...nodes].map((node) => this.publish(node, { kind: 'membership', user, group, joined })));
  }

  private async routeDirectMessage(
    message: ChatMessage,
    recipients: readonly string[],
    acceptedAt: number,
    exceptSession: string | undefined,
    reached: Set<string>,
  ): Promise<void> {
    const sessions = (await Promise.all(recipients.map((user) => this.sessionsOf(user)))).flat();
    const plan = routeToNodes(sessions);
    // This node's own sockets are known first-hand (routeMessage delivered to them); the cache may lag behind them.
    plan.delete(this.deps.nodeId);
    await this.publishOnce(reached, [...plan].map(([node, nodeUsers]) => [node, { kind: 'message', message, acceptedAt, users: nodeUsers, exceptSession }]));
  }

  private async routeGroupMessage(
    message: ChatMessage,
    group: string,
    acceptedAt: number,
    exceptSession: string | undefined,
    reached: Set<string>,
  ): Promise<void> {
    const { remote } = groupFanOut(await this.deps.bus.routes.groupNodes(group), this.deps.nodeId);
    await this.publishOnce(reached, remote.map((node) => [node, { kind: 'message', message, acceptedAt, exceptSession }]));
  }

  /**
   * Publishes each envelope to its node, but not to nodes already `reached` by an earlier
   * attempt: on a Redis Cluster, inboxes live on different servers, and a retry after one
   * of them failed must not repeat the others.
   */
  private async publishOnce(reached: Set<string>, envelopes: readonly [string, Envelope][]): Promise<void> {
    const results = await Promise.allSettled(
      envelopes
        .filter(([node]) => !reached.has(node))
        .map(async ([node, envelope]) => {
          await this.publish(node, envelope);
          reached.add(node);
        }),
    );
    const failure = results.find((result) => result.status === 'rejected');
    if (failure !== undefined) throw failure.reason;
  }

  /** A user's sockets from the route cache, or from the mapping table when the cache has none (e.g. Redis restarted). */
  private async sessionsOf(user: string): Promise<SessionRecord[]> {
    const cached = await this.deps.bus.routes.sessionsOf(user);
    if (cached.length > 0) return cached;
    return this.deps.store.sessionsOf(user);
  }

  private async publish(node: string, envelope: Envelope): Promise<void> {
    await this.deps.bus.inbox.publish(node, envelope);
    this.deps.metrics.busPublished.inc();
  }

  private localMembers(to: Target): string[] {
    return 'group' in to ? this.deps.sockets.membersOf(to.group) : [];
  }

  private deliverLocally(message: ChatMessage, users: readonly string[], acceptedAt: number, exceptSession: string | undefined): void {
    // Sockets differ only in the cursor they are given, and most are given the same one
    // (the node's delivered floor): the frame is serialized once per cursor, not per socket.
    const frames = new Map<string | undefined, EncodedFrame>();
    const delivered = this.deps.sockets.deliver(
      users,
      (connection) => {
        const cursor = this.deps.cursorFor(connection);
        let frame = frames.get(cursor);
        if (frame === undefined) {
          frame = new EncodedFrame(cursor === undefined ? { type: 'message', ...message } : { type: 'message', ...message, cursor });
          frames.set(cursor, frame);
        }
        return frame;
      },
      exceptSession,
    );
    if (delivered === 0) return;
    const kind = 'group' in message.to ? 'group' : 'direct';
    this.deps.metrics.messagesDelivered.inc({ kind }, delivered);
    const latency = Math.max(0, this.deps.clock() - acceptedAt) / 1000;
    for (let i = 0; i < delivered; i++) this.deps.metrics.deliveryLatency.observe(latency);
  }
}
