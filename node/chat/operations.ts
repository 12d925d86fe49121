import type { Bus } from '../bus/bus.js';
import type { NodeMetrics } from '../metrics.js';
import { ChatError, isUnavailable } from '../protocol/errors.js';
import { ackOf, cursorOf, type Ack, type ChatMessage, type GroupInfo, type Target } from '../protocol/frames.js';
import { earlierId, encodeCursor, encodePageToken, laterId, parseSince, readAfter } from '../protocol/cursor.js';
import { conversationId, syncParticipants } from '../protocol/conversations.js';
import type { HistoryPage, Store } from '../store/store.js';
import type { Delivery } from './delivery.js';
import type { InFlightMessages } from './in-flight.js';
import type { ClusterProgress } from './progress.js';
import { PerUserLimit } from './rate-limit.js';
import { keepHolding, type UnsettledAppends } from './unsettled-appends.js';

export interface OperationsDeps {
  nodeId: string;
  store: Store;
  bus: Bus;
  delivery: Delivery;
  metrics: NodeMetrics;
  inFlight: InFlightMessages;
  progress: ClusterProgress;
  unsettled: UnsettledAppends;
  clock: () => number;
  limits: { maxTextBytes: number; messagesPerSecondPerUser: number };
}

export interface SendRequest {
  to: Target;
  text: string;
  idem?: string | undefined;
}

/** A page of `sync` as the protocol answers it. */
export interface SyncReply {
  /** Oldest first. */
  messages: ChatMessage[];
  /** Where the next page starts, or null on the last page. */
  next: string | null;
  /** The cursor to keep once `next` is null (on earlier pages: one safe to keep so far). */
  cursor: string;
  /** On the last page: the floor `cursor` encodes, which the socket's live frames start from. */
  completedAt?: { floor: string | undefined };
}

/** How long a duplicate send waits for the first one with the same `idem` to finish. */
const PENDING_IDEM_WAIT_MS = 3000;
const SYNC_PAGE = 200;
/**
 * Typing indicators relayed per user and second, and the burst allowed above that. The web
 * client sends one every 2 s while its user types, and receivers show one for 4 s: one a
 * second keeps the indicator lit for a user typing on two devices or in turn in a few
 * conversations, and the burst covers switching between them. Past that, a socket spraying
 * a large group costs the node one fan-out a second instead of one per frame.
 */
const TYPING_PER_SECOND = 1;
const TYPING_BURST = 3;

/**
 * What a send did: the ack, at once (the message is durable), and the routing still to do,
 * which the caller runs when it suits it (a socket chains it behind its earlier messages
 * without holding its next frame back). No routing for a repeated `idem`: it was routed then.
 */
export interface SendOutcome {
  ack: Ack;
  route: (() => Promise<void>) | undefined;
}

/**
 * The chat operations of PROTOCOL.md for an authenticated user, shared by the socket and
 * the HTTP API. Each validates, authorizes, then reads or writes; errors are ChatErrors.
 */
export class ChatOperations {
  private readonly sends: PerUserLimit;
  private readonly typings = new PerUserLimit(TYPING_PER_SECOND, TYPING_BURST);

  constructor(private readonly deps: OperationsDeps) {
    this.sends = new PerUserLimit(deps.limits.messagesPerSecondPerUser, deps.limits.messagesPerSecondPerUser);
  }

  /**
   * validate → authorize → store → ack, then the routing for the caller to run. A repeated
   * `idem` gets the first ack, and nothing is stored or routed again.
   */
  async send(user: string, request: SendRequest, options: { exceptSession?: string } = {}): Promise<SendOutcome> {
    const { deps } = this;
    if (Buffer.byteLength(request.text, 'utf8') > deps.limits.maxTextBytes) {
      throw new ChatError('too_large', `text is longer than ${deps.limits.maxTextBytes} bytes`);
    }
    if (!this.sends.take(user, deps.clock())) {
      deps.metrics.rateLimited.inc();
      throw new ChatError('rate_limited', `more than ${deps.limits.messagesPerSecondPerUser} messages per second`);
    }
    if ('group' in request.to) await this.requireMembership(user, request.to.group);

    const acceptedAt = deps.clock();
    // Taken before the idem's claim, which names it: only this send (or a survivor finishing
    // it) may then answer, hold or free the claim.
    const id = deps.inFlight.take(acceptedAt);
    if (request.idem !== undefined) {
      const previous = await this.claimIdempotencyKey(user, request.idem, id).catch((error: unknown) => {
        deps.inFlight.finish(id);
        throw error;
      });
      if (previous !== undefined) {
        deps.inFlight.finish(id);
        return { ack: previous, route: undefined };
      }
    }
    const message: ChatMessage = {
      id,
      conv: conversationId(user, request.to),
      from: user,
      to: request.to,
      text: request.text,
      ts: acceptedAt,
    };
    const participants = syncParticipants(user, request.to);
    // Recorded in flight beside the store write (no added round trip), so a survivor routes it
    // if this node dies before routing it. A bus that is away fails only the record: the
    // message is durable, so it is acked, and it stays in flight here until routed (routing
    // waits for the bus); only a node dying before the bus is back leaves it unrouted.
    const exceptSession = options.exceptSession === undefined ? {} : { exceptSession: options.exceptSession };
    const idem = request.idem === undefined ? {} : { idem: request.idem };
    const key = request.idem;
    const stopHolding = key === undefined ? undefined : keepHolding(() => deps.bus.idempotency.hold(user, key, id));
    const [, stored] = await Promise.allSettled([
      deps.bus.progress.track(deps.nodeId, { message, acceptedAt, ...exceptSession, ...idem }),
      deps.store.appendMessage(message, participants),
    ]);
    stopHolding?.();
    if (stored.status === 'rejected') {
      // The sending socket was answered `unavailable`: should the message be stored later, it sees it live too.
      const routeToAll = (): Promise<void> => this.routeAndFinish(message, acceptedAt, undefined);
      if (key === undefined || !this.keepUnsettled(user, key, message, participants, stored.reason, routeToAll)) {
        await this.giveUp(message.id, user, key);
      }
      throw stored.reason;
    }
    const ack = ackOf(message);
    if (request.idem !== undefined) await deps.bus.idempotency.complete(user, request.idem, ack).catch(() => undefined);
    deps.metrics.messagesReceived.inc({ kind: 'group' in request.to ? 'group' : 'direct' });
    return { ack, route: () => this.routeAndFinish(message, acceptedAt, options.exceptSession) };
  }

  /**
   * A send with an `idem` whose store write failed with `unavailable` may have been stored
   * all the same (a timeout): it is written again in the background under the same id, and
   * its `idem` kept pending, so a retry is answered with this message's ack once it is
   * stored rather than storing a second message (UnsettledAppends). False when it is not
   * kept: the send failed for good, or too many wait already.
   */
  private keepUnsettled(user: string, key: string, message: ChatMessage, participants: string[], failure: unknown, route: () => Promise<void>): boolean {
    if (!isUnavailable(failure)) return false;
    const { deps } = this;
    return deps.unsettled.keep({
      id: message.id,
      append: () => deps.store.appendMessage(message, participants),
      hold: () => deps.bus.idempotency.hold(user, key, message.id),
      stored: async () => {
        await deps.bus.idempotency.complete(user, key, ackOf(message)).catch(() => undefined);
        deps.metrics.messagesReceived.inc({ kind: 'group' in message.to ? 'group' : 'direct' });
        await route();
      },
      abandoned: () => {
        void this.giveUp(message.id, user, key);
      },
    });
  }

  /**
   * A send that failed for good no longer holds cursors back. With an `idem`, its in-flight
   * record goes before the `idem` is freed for a retry, so no survivor finds the record and
   * stores the message beside the retry's; should the record stay (the bus is away), so does
   * the claim, until it lapses.
   */
  private async giveUp(id: string, user: string, key: string | undefined): Promise<void> {
    const { deps } = this;
    deps.progress.finished(id);
    if (key === undefined) return;
    try {
      await deps.bus.progress.settle(deps.nodeId, [id]);
    } catch {
      return;
    }
    await deps.bus.idempotency.release(user, key, id).catch(() => undefined);
  }

  /** Routes a stored message; it stays in flight (for a survivor to route) when the node stopped first. */
  private async routeAndFinish(message: ChatMessage, acceptedAt: number, exceptSession: string | undefined): Promise<void> {
    if (await this.deps.delivery.routeMessage(message, acceptedAt, exceptSession)) this.deps.progress.finished(message.id);
  }

  /**
   * Creates a group; its creator is its first member. `conflict` when another user took the
   * name. Its creator asking again (a retry after an answer that was lost, or after the join
   * failed) is answered with the group as it was made, and is its member: a retry neither
   * reads as a stranger's name nor leaves the creator outside their own group.
   */
  async createGroup(user: string, name: string): Promise<GroupInfo> {
    const { store } = this.deps;
    const group: GroupInfo = { name, createdBy: user, createdAt: this.deps.clock() };
    const created = await store.createGroup(group);
    const answer = created ? group : await store.getGroup(name);
    if (answer?.createdBy !== user) throw new ChatError('conflict', `group ${name} already exists`);
    await this.joinGroup(user, name);
    return answer;
  }

  async joinGroup(user: string, group: string): Promise<void> {
    await this.requireGroup(group);
    await this.deps.store.addMember(group, user);
    await this.deps.delivery.announceMembership(user, group, true);
  }

  async leaveGroup(user: string, group: string): Promise<void> {
    await this.requireGroup(group);
    await this.deps.store.removeMember(group, user);
    await this.deps.delivery.announceMembership(user, group, false);
  }

  async members(user: string, group: string): Promise<string[]> {
    await this.requireMembership(user, group);
    return this.deps.store.members(group);
  }

  groups(user: string): Promise<string[]> {
    return this.deps.store.groupsOf(user);
  }

  /** A page of a conversation the user belongs to, newest first. */
  async history(user: string, conv: Target, options: { before?: string | 0 | undefined; limit: number }): Promise<HistoryPage> {
    if ('group' in conv) await this.requireMembership(user, conv.group);
    // A direct conversation id is built from the caller's own id, so it is always theirs.
    const before = cursorOf(options.before);
    return this.deps.store.history(conversationId(user, conv), { limit: options.limit, ...(before === undefined ? {} : { before }) });
  }

  /**
   * The next page of what the user missed, oldest first, with the cursor to keep. A walk's
   * floor is fixed on its first page: the later of what the client held and the cluster's
   * stored floor read before the first read, so every message below it was visible to that
   * read and is returned by one of the walk's pages (they go up in id order).
   */
  async sync(user: string, since: string | 0 | undefined): Promise<SyncReply> {
    const position = parseSince(since);
    const floor = position.after === undefined ? laterId(position.floor, this.deps.progress.storedFloor) : position.floor;
    const after = readAfter(position);
    const page = await this.deps.store.sync(user, { limit: SYNC_PAGE, ...(after === undefined ? {} : { since: after }) });
    const last = page.messages.at(-1);
    if (page.next !== null && last !== undefined) {
      return { messages: page.messages, next: encodePageToken(floor, last.id), cursor: encodeCursor(earlierId(floor, last.id)) };
    }
    return { messages: page.messages, next: null, cursor: encodeCursor(floor), completedAt: { floor } };
  }

  /**
   * Relays a typing indicator; never stored. Group typing needs membership like sending.
   * Past the user's typing rate it is dropped without a word: typing gets no reply, and a
   * hint arriving a second later is no loss.
   */
  async typing(user: string, to: Target, exceptSession: string): Promise<void> {
    if (!this.typings.take(user, this.deps.clock())) return;
    if ('group' in to) await this.requireMembership(user, to.group);
    await this.deps.delivery.relayTyping(user, conversationId(user, to), to, exceptSession);
  }

  /** The first ack of a key, waiting briefly when the first send is still in flight. */
  private async claimIdempotencyKey(user: string, key: string, id: string): Promise<Ack | undefined> {
    const deadline = this.deps.clock() + PENDING_IDEM_WAIT_MS;
    for (;;) {
      const claim = await this.deps.bus.idempotency.claim(user, key, id);
      if (claim !== 'pending') return claim;
      if (this.deps.clock() > deadline) {
        throw new ChatError('unavailable', 'a send with this idem is still in progress; retry with the same idem');
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  private async requireGroup(group: string): Promise<void> {
    const found = await this.deps.store.getGroup(group);
    if (found === undefined) throw new ChatError('not_found', `no group ${group}`);
  }

  private async requireMembership(user: string, group: string): Promise<void> {
    const member = await this.deps.store.isMember(group, user);
    if (member) return;
    await this.requireGroup(group);
    throw new ChatError('forbidden', `not a member of group ${group}`);
  }
}
