import { setTimeout as sleep } from 'node:timers/promises';
import type { RawData } from 'ws';
import type { Target } from '../../node/protocol/frames.js';
import { ChatClient, SocketClosedError, type Frame } from './chat-client.js';
import { tokenFor, type NodeProcess } from '../../dev/node-processes.js';

/** Where a user can connect: a node process, or anything with an id and a `ws://` URL (a Service on 127.0.0.1). */
export type ChatEndpoint = Pick<NodeProcess, 'id' | 'wsUrl'>;

/** Makes the bearer token a user connects with. */
export type TokenMaker = (user: string) => Promise<string>;

/** One time a user's socket dropped and the user came back on another node. */
export interface Reconnection {
  droppedAt: number;
  /** When `hello` came from the new node. */
  helloAt: number;
  /** When the catch-up `sync` (every page) was answered. */
  syncedAt: number;
  node: string;
  /** The cursor the catch-up `sync` started from (undefined: `since: 0`). */
  since: string | undefined;
  /** Messages the catch-up returned that had not been seen live. */
  recovered: number;
  /** Messages the catch-up returned that the user already held (the overlap, dropped by id). */
  repeated: number;
}

/**
 * A chat user as a careful client behaves: it remembers every message it saw and the last
 * `cursor` it received (from a `message` frame or a sync walk's last page), syncs when it
 * connects, and, when its socket drops, reconnects to the next node of its list and syncs
 * from that cursor (PROTOCOL.md: such a client never misses a message).
 */
export class ChatUser {
  /** Message id → when it arrived live. */
  readonly live = new Map<string, number>();
  /** Ids returned by `sync`. */
  readonly synced = new Set<string>();
  readonly reconnections: Reconnection[] = [];
  /** The last cursor received, live or from a sync walk. */
  cursor: string | undefined;
  /** Messages one socket received more than once (the protocol says once each). */
  duplicates = 0;
  /** Why the last reconnection failed (its catch-up sync was refused), if it did. */
  reconnectError: unknown;
  client!: ChatClient;
  private nodeIndex = 0;
  private closing = false;

  private constructor(
    readonly name: string,
    /** Where the user connects first (index 0) and, in turn, after a drop. */
    private readonly nodes: readonly ChatEndpoint[],
    /** How long the user waits after a drop before reconnecting (undefined: it does not). */
    private readonly reconnectAfterMs: number | (() => number) | undefined,
    private readonly token: TokenMaker,
  ) {}

  /**
   * Connects `name` to `nodes[0]`. With `reconnectAfterMs`, it moves along `nodes` whenever
   * its socket drops, after that pause (a client's back-off). `token` signs its tokens
   * (default: the test nodes' secret).
   */
  static async connect(
    name: string,
    nodes: readonly ChatEndpoint[],
    options: { reconnectAfterMs?: number | (() => number); token?: TokenMaker } = {},
  ): Promise<ChatUser> {
    const user = new ChatUser(name, nodes, options.reconnectAfterMs, options.token ?? ((subject) => tokenFor(subject)));
    await user.open(0);
    await user.syncFrom(undefined);
    return user;
  }

  /** Drops the socket as a flaky network would; the user reconnects to the next node and syncs. */
  hop(): void {
    this.client.socket.terminate();
  }

  /** The node the current socket is on. */
  get node(): string {
    return this.client.hello.node as string;
  }

  /** Whether the user saw `id` at all, live or by sync. */
  saw(id: string): boolean {
    return this.live.has(id) || this.synced.has(id);
  }

  /** Sends a frame on the current socket and resolves with its reply. */
  request(frame: Record<string, unknown>, timeoutMs?: number): Promise<Frame> {
    return this.client.request(frame, timeoutMs);
  }

  /** Asks `sync` page by page from `since` (0: everything), records what it returns, and keeps the walk's cursor. */
  async syncFrom(since: string | undefined): Promise<string[]> {
    const returned: string[] = [];
    let from: string | 0 = since ?? 0;
    for (;;) {
      const page = await this.client.request({ type: 'sync', since: from });
      if (page.type !== 'sync') throw new Error(`${this.name}: sync answered ${JSON.stringify(page)}`);
      for (const message of page.messages as Frame[]) {
        const id = message.id as string;
        returned.push(id);
        this.synced.add(id);
      }
      if (page.next === null) {
        this.cursor = page.cursor as string;
        return returned;
      }
      from = page.next as string;
    }
  }

  close(): void {
    this.closing = true;
    this.client.close();
  }

  private async open(index: number): Promise<void> {
    const node = this.nodes[index % this.nodes.length];
    if (node === undefined) throw new Error(`${this.name} has no node to connect to`);
    const client = await withTimeout(ChatClient.connect(node.wsUrl, await this.token(this.name)), 5_000, `connect to ${node.id}`);
    this.nodeIndex = index;
    this.client = client;
    client.socket.on('error', () => {
      // A dropped connection surfaces as 'close', handled below.
    });
    const onThisSocket = new Set<string>();
    client.socket.on('message', (data: RawData) => {
      const frame = JSON.parse(rawText(data)) as Frame;
      if (frame.type !== 'message') return;
      const id = frame.id as string;
      if (onThisSocket.has(id)) this.duplicates += 1;
      onThisSocket.add(id);
      if (!this.live.has(id)) this.live.set(id, Date.now());
      if (typeof frame.cursor === 'string') this.cursor = frame.cursor;
    });
    client.socket.once('close', () => {
      if (this.closing || this.reconnectAfterMs === undefined) return;
      this.reconnect(Date.now()).catch((error: unknown) => {
        this.reconnectError = error;
      });
    });
  }

  /** Tries the next nodes in turn until one says hello, then syncs from the cursor it kept. */
  private async reconnect(droppedAt: number): Promise<void> {
    await sleep(typeof this.reconnectAfterMs === 'function' ? this.reconnectAfterMs() : (this.reconnectAfterMs ?? 0));
    for (let attempt = 1; !this.closing; attempt++) {
      try {
        await this.open(this.nodeIndex + 1);
        break;
      } catch {
        // Refused (the node is gone) or not answering: try the next one shortly.
        this.nodeIndex += 1;
        await sleep(Math.min(100 * attempt, 1_000));
      }
    }
    if (this.closing) return;
    const helloAt = Date.now();
    const since = this.cursor;
    const liveBefore = new Set(this.live.keys());
    const heldBefore = new Set([...this.live.keys(), ...this.synced]);
    let returned: string[];
    try {
      returned = await this.syncFrom(since);
    } catch (error) {
      // The new socket dropped too: its close handler is already reconnecting again.
      if (error instanceof SocketClosedError) return;
      throw error;
    }
    this.reconnections.push({
      droppedAt,
      helloAt,
      syncedAt: Date.now(),
      node: this.node,
      since,
      recovered: returned.filter((id) => !liveBefore.has(id)).length,
      repeated: returned.filter((id) => heldBefore.has(id)).length,
    });
  }
}

/** One `send` of the traffic and what came of it. */
export interface SendRecord {
  from: string;
  to: Target;
  idem: string | undefined;
  startedAt: number;
  repliedAt?: number;
  ack?: { id: string; conv: string };
  /** The error code, or `timeout` when no reply came. */
  error?: string;
}

/** A sender and the targets it sends to in turn. */
export interface SendPlan {
  sender: ChatUser;
  targets: readonly Target[];
}

/** A message some user should have seen and did not. */
export interface Missed {
  user: string;
  id: string;
  conv: string;
  sentAt: number;
}

/**
 * Senders sending in a loop, one message at a time each, every `paceMs`, to their targets
 * in turn; every other send carries an `idem`. It records every send and its outcome.
 */
export class Traffic {
  readonly sends: SendRecord[] = [];
  private running = false;
  private loops: Promise<void>[] = [];

  constructor(
    private readonly plans: readonly SendPlan[],
    /** Members of each group the plans send to, to know who should receive a group message. */
    private readonly groupMembers: Readonly<Record<string, readonly string[]>>,
    private readonly paceMs: number,
  ) {}

  start(): void {
    this.running = true;
    this.loops = this.plans.map((plan) => this.sendLoop(plan));
  }

  /** Stops sending; resolves once every send in flight has its reply. */
  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  /** Sends that were acked. */
  acked(): (SendRecord & { ack: { id: string; conv: string } })[] {
    return this.sends.filter((send): send is SendRecord & { ack: { id: string; conv: string } } => send.ack !== undefined);
  }

  /** Who must receive a message of `send`: the addressee, or the group's members but the sender. */
  recipientsOf(send: SendRecord): string[] {
    if ('user' in send.to) return [send.to.user];
    const members = this.groupMembers[send.to.group];
    if (members === undefined) throw new Error(`members of ${send.to.group} are unknown`);
    return members.filter((member) => member !== send.from);
  }

  /**
   * The acked messages (of those `which` selects) that a recipient among `users` has not
   * seen in the way asked: live only, or live or by sync.
   */
  missed(users: readonly ChatUser[], how: 'live' | 'live or sync', which: (send: SendRecord) => boolean = () => true): Missed[] {
    const byName = new Map(users.map((user) => [user.name, user]));
    const missed: Missed[] = [];
    for (const send of this.acked().filter(which)) {
      for (const name of this.recipientsOf(send)) {
        const user = byName.get(name);
        if (user === undefined) continue;
        const seen = how === 'live' ? user.live.has(send.ack.id) : user.saw(send.ack.id);
        if (!seen) missed.push({ user: name, id: send.ack.id, conv: send.ack.conv, sentAt: send.startedAt });
      }
    }
    return missed;
  }

  private async sendLoop({ sender, targets }: SendPlan): Promise<void> {
    for (let count = 0; this.running; count++) {
      const to = targets[count % targets.length];
      if (to === undefined) return;
      const idem = count % 2 === 1 ? `${sender.name}-${count}` : undefined;
      const record: SendRecord = { from: sender.name, to, idem, startedAt: Date.now() };
      this.sends.push(record);
      const text = `${sender.name} #${count} to ${'user' in to ? to.user : `group ${to.group}`}`;
      try {
        const reply = await sender.request({ type: 'send', to, text, ...(idem === undefined ? {} : { idem }) });
        record.repliedAt = Date.now();
        if (reply.type === 'ack') record.ack = { id: reply.id as string, conv: reply.conv as string };
        else record.error = String(reply.code);
      } catch {
        record.error = 'timeout';
      }
      await sleep(this.paceMs);
    }
  }
}

/** Counts of each outcome (`ack`, or an error code) of `sends`. */
export function outcomes(sends: readonly SendRecord[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const send of sends) {
    const outcome = send.ack === undefined ? (send.error ?? 'pending') : 'ack';
    counts[outcome] = (counts[outcome] ?? 0) + 1;
  }
  return counts;
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      reject(new Error(`${what}: no answer within ${ms} ms`));
    }, ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function rawText(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data instanceof ArrayBuffer ? new Uint8Array(data) : data).toString('utf8');
}
