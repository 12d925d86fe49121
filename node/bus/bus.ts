import type { Ack, ChatMessage, PresenceStatus } from '../protocol/frames.js';
import type { SessionRecord } from '../store/store.js';

/**
 * What one node sends another through its durable inbox. A node that was away (Redis
 * blip, slow consumer) resumes after the last envelope it processed, losing none.
 */
export type Envelope =
  | {
      kind: 'message';
      message: ChatMessage;
      /** When the sending node accepted the send (ms), for the delivery-latency metric. */
      acceptedAt: number;
      /**
       * Direct messages: the users to deliver to on the receiving node. Unset for group
       * messages: the receiving node delivers to each of its local members of the group.
       */
      users?: string[];
      /** The sender's own socket, which has its ack and must not get the message again. */
      exceptSession?: string;
    }
  | {
      /** A user joined or left a group through another node; this node hosts sockets of theirs. */
      kind: 'membership';
      user: string;
      group: string;
      joined: boolean;
    }
  | {
      /**
       * A node's marker in its own inbox: once it is consumed, every message below `value`
       * that was routed to this node has been delivered to its sockets (ClusterProgress).
       */
      kind: 'watermark';
      value: string;
    };

/** What one node tells another with no durability (at most once): typing indicators. */
export interface Signal {
  kind: 'typing';
  from: string;
  conv: string;
  /** The users to relay to on the receiving node; unset for a group (`conv` is `g:<name>`): its local members. */
  users?: string[];
}

export type EnvelopeHandler = (envelope: Envelope) => Promise<void>;
export type SignalHandler = (signal: Signal) => void;
export type PresenceHandler = (user: string, status: PresenceStatus) => void;
/** Stops a consumer or subscription. */
export type Unsubscribe = () => Promise<void>;

/**
 * Which node hosts which user's sockets (a cache of the mapping table), and which nodes
 * host at least one online member of each group, so a group message costs O(nodes).
 */
export interface RouteCache {
  /** Records a socket; true when it is the user's first anywhere (the user came online). */
  addSession(session: SessionRecord): Promise<boolean>;
  /** Removes a socket; true when it was the user's last anywhere (the user went offline). */
  removeSession(session: SessionRecord): Promise<boolean>;
  /** The user's sockets. Empty may also mean the cache was lost: callers fall back to the store. */
  sessionsOf(user: string): Promise<SessionRecord[]>;
  /** Whether each user has a socket anywhere. */
  onlineStatus(users: readonly string[]): Promise<Record<string, boolean>>;

  addGroupNode(group: string, node: string): Promise<void>;
  removeGroupNode(group: string, node: string): Promise<void>;
  groupNodes(group: string): Promise<string[]>;

  /**
   * Forgets every route and group entry of a node that left or died. `wentOffline` hears of
   * the users left with no socket anywhere as they go, batch by batch, so a failure part-way
   * loses no news of a user already removed.
   */
  removeNode(node: string, wentOffline: (users: string[]) => Promise<void>): Promise<void>;
}

/**
 * Idempotency keys (`idem`), kept 24 hours per user. A pending claim names the message its
 * send stores (`id`): only that send, or a survivor finishing it, may answer, hold or free
 * it. A send whose claim lapsed and was taken by a retry never replaces the retry's answer,
 * and a survivor does not store it beside the retry's copy when it was never stored.
 */
export interface IdempotencyKeys {
  /**
   * Claims `key` for `user` and the message `id` its send stores. Resolves undefined when
   * this call claimed it (go on and store), the first ack when a send with this key already
   * completed, or 'pending' when one is still in flight.
   */
  claim(user: string, key: string, id: string): Promise<Ack | 'pending' | undefined>;
  /**
   * Records the ack of the send that claimed the key (or of a key whose claim lapsed and no
   * one took since), for 24 hours. A key that holds an ack already, or another send's claim
   * (this claim lapsed and a retry took the key), keeps it: what a client was answered with
   * is never replaced.
   */
  complete(user: string, key: string, ack: Ack): Promise<void>;
  /** Gives up the pending claim of message `id`, whose send failed, so a retry can succeed; anything else stays. */
  release(user: string, key: string, id: string): Promise<void>;
  /**
   * Keeps the pending claim of message `id` from lapsing while its send is still being
   * settled (its store write is retried); a completed key, or another send's, is left as it is.
   */
  hold(user: string, key: string, id: string): Promise<void>;
  /**
   * Takes the claim over for message `id`, left unsettled by a node that died: true when
   * the key is this message's claim (held on), its ack, or free (claimed now); false when
   * another send claimed or answered it, and that send's copy is the one to keep.
   */
  adopt(user: string, key: string, id: string): Promise<boolean>;
}

/** Node liveness: a heartbeat with a time-to-live. */
export interface NodeHeartbeats {
  beat(node: string, ttlSeconds: number): Promise<void>;
  /** Nodes whose last heartbeat has expired. */
  expired(): Promise<string[]>;
  forget(node: string): Promise<void>;
  /**
   * Claims the clean-up of a dead node for `ttlSeconds`, so only one survivor does it:
   * resolves with the claim's token for the caller that won. Undefined, holding nothing,
   * when another holds it or when the node beats again: a next life of it (a restarted
   * container keeps its pod's name) is back, and it is not dead.
   */
  claimCleanup(node: string, ttlSeconds: number): Promise<string | undefined>;
  /**
   * The same claim, taken by a node's next life on itself before it writes anything, so no
   * survivor cleans up after its previous life while it starts. Undefined while a survivor
   * holds it.
   */
  claimOwnCleanup(node: string, ttlSeconds: number): Promise<string | undefined>;
  /**
   * Renews a survivor's claim for `ttlSeconds`: true while `token` still holds it and the
   * node has not beaten again, so the clean-up may go on to its next step.
   */
  keepCleanup(node: string, token: string, ttlSeconds: number): Promise<boolean>;
  /** Gives a claim back once its clean-up is done (only the holder of `token` can). */
  releaseCleanup(node: string, token: string): Promise<void>;
}

/** A message a node accepted and has not finished routing, kept so a survivor can finish it. */
export interface InFlightEntry {
  message: ChatMessage;
  acceptedAt: number;
  exceptSession?: string;
  /** The sender's `idem`: whoever finishes the entry answers it, with the ack if it was stored, or frees it. */
  idem?: string;
}

/**
 * The cluster's progress: each node's watermark (no message it may still make visible has a
 * lower id), and the messages each node accepted but has not routed yet, so a survivor can
 * route them when the node dies.
 */
export interface ProgressLedger {
  /** Records an accepted message before it is stored. */
  track(node: string, entry: InFlightEntry): Promise<void>;
  /**
   * In one round trip: reads every node's published watermark, then publishes `node`'s and
   * forgets its `settled` entries. Resolves with what was published before this write.
   */
  exchange(node: string, watermark: string, settled: readonly string[]): Promise<Map<string, string>>;
  /** The entries a node left unsettled, oldest first. */
  unsettled(node: string): Promise<InFlightEntry[]>;
  /**
   * Drops a node's entries now, not at its next exchange: a send that failed for good is
   * forgotten before its `idem` is freed, so no survivor finds it and stores it after all.
   */
  settle(node: string, ids: readonly string[]): Promise<void>;
  /** Removes a node's watermark and entries: it left, or a survivor finished its work. */
  forget(node: string): Promise<void>;
}

/** Presence changes, broadcast to every node that follows the user (at most once). */
export interface PresenceChannel {
  announce(user: string, status: PresenceStatus): Promise<void>;
  /** Starts receiving the changes of these users (the handler is the node's, given at creation). */
  follow(users: readonly string[]): Promise<void>;
  unfollow(users: readonly string[]): Promise<void>;
}

/** Each node's durable inbox: what one node must get from another, in order, at least once. */
export interface Inbox {
  /** Appends to a node's inbox. */
  publish(node: string, envelope: Envelope): Promise<void>;
  /** Consumes a node's inbox in order from where this bus stopped, until unsubscribed. */
  consume(node: string, handler: EnvelopeHandler): Promise<Unsubscribe>;
  /**
   * Deletes a dead node's inbox. What it still holds was for sockets that are gone (their
   * clients sync from the store when they reconnect), and message texts should not stay in
   * Redis longer than their delivery.
   */
  remove(node: string): Promise<void>;
}

/** Ephemeral signals from node to node (at most once): typing indicators. */
export interface Signals {
  send(node: string, signal: Signal): Promise<void>;
  /** Receives the signals sent to `node` from the moment this resolves. */
  subscribe(node: string, handler: SignalHandler): Promise<Unsubscribe>;
}

/**
 * The seam between "deliver to local sockets" and "reach other nodes" (Redis in a
 * cluster, in-process in the embedded node): one narrow port per concern, which the chat
 * logic uses without knowing which it has. Failures to reach the bus reject with
 * `ChatError('unavailable')`.
 */
export interface Bus {
  readonly inbox: Inbox;
  readonly signals: Signals;
  readonly routes: RouteCache;
  readonly idempotency: IdempotencyKeys;
  readonly heartbeats: NodeHeartbeats;
  readonly progress: ProgressLedger;
  /** Presence, delivering followed users' changes to `handler`. */
  presence(handler: PresenceHandler): Promise<PresenceChannel>;

  /**
   * Called after the bus lost and regained its server (e.g. Redis restarted), so the node
   * can write its routes again: a restarted Redis may have lost them.
   */
  onReconnect(handler: () => void): void;
  isHealthy(): Promise<boolean>;
  close(): Promise<void>;
}
