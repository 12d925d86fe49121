import { reconnectDelay } from '../../../node/protocol/reconnect-delay.js';
import { conversationOf } from './conversations.js';
import { CLOSE, type ChatMessage, type ClientFrame, type ErrorCode, type PresenceStatus, type ServerFrame, type Target } from './frames.js';
import { Outbox, type PendingSend } from './outbox.js';
import { PendingReplies, RequestError, type ProblemReport, type Reply } from './replies.js';

export type { PendingSend } from './outbox.js';
export { RequestError, type ProblemReport } from './replies.js';

/** Where the connection is, for the page to show in words. */
export type ConnectionState =
  | { kind: 'connecting'; attempt: number }
  | { kind: 'syncing'; node: string }
  | { kind: 'online'; node: string }
  /** Waiting to reconnect: after a lost socket (backoff) or as a draining node asked. */
  | { kind: 'waiting'; reason: 'lost' | 'drain'; retryInMs: number; attempt: number }
  | { kind: 'signed-out'; reason: string }
  | { kind: 'stopped' };

export interface SocketHandlers {
  open(): void;
  message(text: string): void;
  close(code: number): void;
}

/** The little of a WebSocket the connection uses. */
export interface SocketLike {
  send(text: string): void;
  close(code?: number): void;
}

/** What the connection tells its owner. Every message reaches `messages` once, whatever path brought it. */
export interface ConnectionEvents {
  state(state: ConnectionState): void;
  messages(messages: readonly ChatMessage[]): void;
  pending(sends: readonly PendingSend[]): void;
  presence(users: Readonly<Record<string, PresenceStatus>>): void;
  typing(from: string, conv: string): void;
  problem(problem: ProblemReport): void;
}

export interface ConnectionDeps {
  /** The user the token names (its `sub`); `hello` confirms it. */
  user: string;
  /** The WebSocket address with its token, `wss://host/ws?token=…`. */
  url: string;
  openSocket: (url: string, handlers: SocketHandlers) => SocketLike;
  /** Runs `callback` after `ms`; returns a function that cancels it. */
  schedule: (callback: () => void, ms: number) => () => void;
  random: () => number;
  newIdem: () => string;
  /**
   * Asked when a socket closed before its `hello`: a browser cannot see the HTTP status of
   * a refused upgrade, so this says whether the token is the reason (false) or not (true).
   */
  tokenAccepted?: () => Promise<boolean>;
  events: Partial<ConnectionEvents>;
}

/** Refs of the connection's own frames: a send's carries its idem, a sync walk's its socket. */
const SEND_REF = 'send:';
const SYNC_REF = 'sync:';
const connectionLost = (): RequestError => new RequestError('connection', 'the connection was lost before the reply came');

/**
 * One user's connection to a chat cluster, as PROTOCOL.md asks a client to hold it: it
 * reconnects with backoff and jitter, honours `drain`, syncs from the kept cursor on every
 * reconnect, hands on each message once (by id), and sends each message until it is acked,
 * with the same `idem` on every try. It does no I/O of its own (sockets and timers are
 * handed in), so all of that is tested without a browser.
 */
export class ChatConnection {
  private socket: SocketLike | undefined;
  /** Bumped per socket: events of a replaced socket are ignored. */
  private generation = 0;
  private greeted = false;
  private attempt = 0;
  private cancelTimer: (() => void) | undefined;
  private draining = false;
  private stopped = true;
  private cursor: string | undefined;
  /** Ids handed on so far (a page's worth of memory; a reload starts afresh). */
  private readonly seen = new Set<string>();
  private readonly outbox: Outbox;
  private readonly replies = new PendingReplies();
  private watched: readonly string[] = [];
  private currentState: ConnectionState = { kind: 'stopped' };
  /** The user, as the token names it and `hello` confirms it. */
  user: string;

  constructor(private readonly deps: ConnectionDeps) {
    this.user = deps.user;
    this.outbox = new Outbox((sends) => deps.events.pending?.(sends));
  }

  get state(): ConnectionState {
    return this.currentState;
  }

  /** The cursor a reconnect syncs from (undefined: from the start, `0`). */
  get keptCursor(): string | undefined {
    return this.cursor;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    this.dropSocket();
    this.setState({ kind: 'stopped' });
  }

  /** Reconnects at once if waiting out a backoff (the browser says the network is back). */
  reconnectNow(): void {
    if (this.stopped || this.currentState.kind !== 'waiting' || this.currentState.reason !== 'lost') return;
    this.cancelTimer?.();
    this.connect();
  }

  /** The network is gone (the browser says so): drop the socket now rather than wait for TCP to notice. */
  networkLost(): void {
    if (this.stopped || this.socket === undefined || this.draining) return;
    this.dropSocket();
    this.retryLater();
  }

  /** Sends a message (pending at once, written when connected) and returns its idempotency key. */
  send(to: Target, text: string): string {
    const idem = this.deps.newIdem();
    this.outbox.add({ idem, to, conv: conversationOf(this.user, to), text, status: 'sending' });
    if (this.greeted) this.transmitSend(idem);
    return idem;
  }

  /** Sends a failed message again, with the same `idem`: the node stores it at most once. */
  retry(idem: string): void {
    if (this.outbox.retry(idem) !== undefined && this.greeted) this.transmitSend(idem);
  }

  /** Forgets a failed message. */
  discard(idem: string): void {
    this.outbox.discard(idem);
  }

  /** Tells the conversation's other side that the user is typing (never stored; dropped when offline). */
  typing(to: Target): void {
    if (this.greeted) this.write({ type: 'typing', to });
  }

  /** Watches these users' presence, now and after every reconnect. */
  watchPresence(users: readonly string[]): void {
    const sorted = [...new Set(users)].sort();
    if (sorted.join('\n') === this.watched.join('\n')) return;
    this.watched = sorted;
    if (this.greeted) this.sendWatch();
  }

  /** Sends a frame with a fresh `ref` and resolves with the reply that echoes it. */
  request(frame: ClientFrame): Promise<Reply> {
    if (!this.greeted) return Promise.reject(new RequestError('connection', 'not connected; try again when the connection is back'));
    const { ref, reply } = this.replies.open();
    this.write({ ...frame, ref });
    return reply;
  }

  private connect(): void {
    this.cancelTimer = undefined;
    this.draining = false;
    this.greeted = false;
    this.outbox.newSocket();
    const generation = ++this.generation;
    this.setState({ kind: 'connecting', attempt: this.attempt });
    const current = (): boolean => generation === this.generation;
    this.socket = this.deps.openSocket(this.deps.url, {
      open: () => undefined,
      message: (text) => {
        if (current()) this.receive(text);
      },
      close: (code) => {
        if (current()) this.lost(code);
      },
    });
  }

  private receive(text: string): void {
    let frame: ServerFrame;
    try {
      frame = JSON.parse(text) as ServerFrame;
    } catch {
      this.report({ code: 'internal', message: 'the node sent a frame that is not JSON' });
      return;
    }
    switch (frame.type) {
      case 'hello':
        this.greeted = true;
        this.attempt = 0;
        this.user = frame.user;
        this.setState({ kind: 'syncing', node: frame.node });
        // Unacked sends go first: the node answers in order, so their acks come before the
        // sync pages, which may hold the same messages (then dropped by id).
        for (const pending of this.outbox.onTheirWay()) this.transmitSend(pending.idem);
        if (this.watched.length > 0) this.sendWatch();
        this.write({ type: 'sync', ref: `${SYNC_REF}${this.generation}`, since: this.cursor ?? 0 });
        return;
      case 'sync':
        this.accept(frame.messages);
        if (frame.next !== null) {
          // The cursor of a page is safe to keep: a walk cut off here resumes from it.
          this.cursor = frame.cursor;
          this.write({ type: 'sync', ref: `${SYNC_REF}${this.generation}`, since: frame.next });
          return;
        }
        this.cursor = frame.cursor;
        if (this.currentState.kind === 'syncing') this.setState({ kind: 'online', node: this.currentState.node });
        return;
      case 'message': {
        this.accept([{ id: frame.id, conv: frame.conv, from: frame.from, to: frame.to, text: frame.text, ts: frame.ts }]);
        if (frame.cursor !== undefined) this.cursor = frame.cursor;
        return;
      }
      case 'ack':
        this.acked(frame);
        return;
      case 'error':
        this.failed(frame.ref, { code: frame.code as ErrorCode, message: frame.message });
        return;
      case 'presence':
        if ('users' in frame) this.deps.events.presence?.(frame.users);
        else this.deps.events.presence?.({ [frame.user]: frame.status });
        this.replies.settle('ref' in frame ? frame.ref : undefined, frame);
        return;
      case 'typing':
        this.deps.events.typing?.(frame.from, frame.conv);
        return;
      case 'drain':
        this.drain(frame.reconnectAfterMs);
        return;
      default:
        this.replies.settle(frame.ref, frame);
    }
  }

  private accept(messages: readonly ChatMessage[]): void {
    const fresh = messages.filter((message) => !this.seen.has(message.id));
    for (const message of fresh) this.seen.add(message.id);
    if (fresh.length > 0) this.deps.events.messages?.(fresh);
  }

  private acked(frame: Extract<ServerFrame, { type: 'ack' }>): void {
    const idem = frame.ref?.startsWith(SEND_REF) === true ? frame.ref.slice(SEND_REF.length) : undefined;
    const pending = idem === undefined ? undefined : this.outbox.acked(idem);
    if (pending === undefined) return;
    this.accept([{ id: frame.id, conv: frame.conv, from: this.user, to: pending.to, text: pending.text, ts: frame.ts }]);
  }

  private failed(ref: string | undefined, problem: ProblemReport): void {
    if (ref?.startsWith(SEND_REF) === true) {
      this.outbox.fail(ref.slice(SEND_REF.length), problem);
      this.report(problem);
      return;
    }
    if (ref?.startsWith(SYNC_REF) === true) {
      // The walk failed (a dependency is away): start over on a new socket, from the kept cursor.
      this.report(problem);
      this.dropSocket();
      this.retryLater();
      return;
    }
    if (!this.replies.fail(ref, new RequestError(problem.code, problem.message))) this.report(problem);
  }

  private drain(afterMs: number): void {
    this.draining = true;
    this.cancelTimer?.();
    this.setState({ kind: 'waiting', reason: 'drain', retryInMs: afterMs, attempt: 0 });
    this.cancelTimer = this.deps.schedule(() => {
      this.dropSocket();
      this.attempt = 0;
      this.connect();
    }, afterMs);
  }

  private lost(code: number): void {
    const greeted = this.greeted;
    this.socket = undefined;
    this.greeted = false;
    this.replies.failAll(connectionLost());
    if (this.stopped) return;
    if (code === CLOSE.tooLarge) this.blameOversizedSend();
    this.outbox.newSocket();
    if (code === CLOSE.tokenExpired) {
      this.signOut('your token expired: sign in again with a new one');
      return;
    }
    // A draining node's timer reconnects; closing first changes nothing.
    if (this.draining) return;
    const tokenAccepted = this.deps.tokenAccepted;
    if (!greeted && tokenAccepted !== undefined) {
      tokenAccepted().then(
        (accepted) => {
          if (accepted) this.retryLater();
          else this.signOut('the node refused this token (expired, or signed with another key)');
        },
        () => {
          this.retryLater();
        },
      );
      return;
    }
    this.retryLater();
  }

  private retryLater(): void {
    if (this.stopped || this.socket !== undefined || this.cancelTimer !== undefined) return;
    this.attempt += 1;
    const delay = reconnectDelay(this.attempt, this.deps.random());
    this.setState({ kind: 'waiting', reason: 'lost', retryInMs: delay, attempt: this.attempt });
    this.cancelTimer = this.deps.schedule(() => {
      this.connect();
    }, delay);
  }

  private signOut(reason: string): void {
    this.stopped = true;
    this.setState({ kind: 'signed-out', reason });
  }

  /** The node closes a socket whose frame was too large (1009): fail the largest send on it, do not resend it. */
  private blameOversizedSend(): void {
    const largest = this.outbox.largestWritten();
    if (largest === undefined) return;
    const problem: ProblemReport = { code: 'too_large', message: 'the message is larger than the node accepts' };
    this.outbox.fail(largest.idem, problem);
    this.report(problem);
  }

  private transmitSend(idem: string): void {
    const pending = this.outbox.get(idem);
    if (pending === undefined) return;
    this.outbox.wrote(idem);
    this.write({ type: 'send', ref: `${SEND_REF}${idem}`, to: pending.to, text: pending.text, idem });
  }

  private sendWatch(): void {
    // The reply is handled as a presence event (it carries the statuses), so nobody awaits it.
    this.write({ type: 'presence.watch', ref: this.replies.unawaited(), users: [...this.watched] });
  }

  private write(frame: ClientFrame): void {
    this.socket?.send(JSON.stringify(frame));
  }

  private dropSocket(): void {
    const socket = this.socket;
    this.socket = undefined;
    this.greeted = false;
    this.generation += 1;
    this.replies.failAll(connectionLost());
    socket?.close(1000);
  }

  private report(problem: ProblemReport): void {
    this.deps.events.problem?.(problem);
  }

  private setState(state: ConnectionState): void {
    this.currentState = state;
    this.deps.events.state?.(state);
  }
}
