import { performance } from 'node:perf_hooks';
import { tokenFor, type NodeProcess } from '../../dev/node-processes.js';
import { BenchSocket, type Frame, type FrameHandler } from './bench-socket.js';
import { exited, pidsOf } from './lifecycle.js';
import { keptTokens, nodeAt, type CatchUp, type StormCluster, type StormSocket } from './reconnect-storm.js';
import { RefRequests } from './ref-requests.js';

/** A chat client's position: the cursor of the last message it has (0: none yet). */
export type ChatPosition = string | number;

/**
 * A chat socket as the storm drives it: keeps its cursor, turns `drain` frames into
 * `onDrain`, and catches up with `sync` requests from its cursor. A live message's cursor
 * is kept only once a sync on this socket has completed: until then the messages below it
 * may not all be here, and a client that kept it would skip them after its next reconnect.
 */
export class ChatStormSocket implements StormSocket<ChatPosition> {
  onFrame: FrameHandler = () => undefined;
  onDrain: (reconnectAfterMs: number, at: number) => void = () => undefined;
  onEnd: (how: string, at: number) => void = () => undefined;
  private readonly requests = new RefRequests();
  private synced = false;

  constructor(
    private readonly socket: BenchSocket,
    private cursor: ChatPosition,
    onFrame: FrameHandler,
  ) {
    this.onFrame = onFrame;
    socket.onFrame = (frame, at) => {
      if (frame.type === 'message') {
        if (this.synced && typeof frame.cursor === 'string') this.cursor = frame.cursor;
        this.onFrame(frame, at);
      } else if (frame.type === 'drain') {
        this.onDrain(typeof frame.reconnectAfterMs === 'number' ? frame.reconnectAfterMs : 0, at);
      } else {
        this.requests.answer(frame);
      }
    };
    socket.onClose = (code, at) => {
      this.requests.answerAll({ type: 'closed', code });
      this.onEnd(String(code), at);
    };
  }

  get opening(): BenchSocket['opening'] {
    return this.socket.opening;
  }

  get isOpen(): boolean {
    return this.socket.isOpen;
  }

  send(frame: Record<string, unknown>): void {
    this.socket.send(frame);
  }

  close(timeoutMs?: number): Promise<void> {
    return this.socket.close(timeoutMs);
  }

  position(): ChatPosition {
    return this.cursor;
  }

  /** Syncs from the kept cursor, page by page, until `next` is null; keeps the final cursor. */
  async catchUp(timeoutMs = 20_000): Promise<CatchUp> {
    let since = this.cursor;
    let pages = 0;
    for (;;) {
      const reply = await this.request({ type: 'sync', since }, timeoutMs, 'sync');
      pages += 1;
      const messages = Array.isArray(reply.messages) ? (reply.messages as Frame[]) : [];
      const at = performance.now();
      for (const message of messages) this.onFrame({ ...message, type: 'message', caughtUp: true }, at);
      if (typeof reply.next === 'string') {
        since = reply.next;
        continue;
      }
      if (typeof reply.cursor === 'string') this.cursor = reply.cursor;
      this.synced = true;
      return { pages, complete: true };
    }
  }

  private request(frame: Record<string, unknown>, timeoutMs: number, expected: string): Promise<Frame> {
    if (!this.socket.isOpen) return Promise.reject(new Error('socket not open'));
    return this.requests.request(this.socket, frame, timeoutMs, expected);
  }
}

/**
 * The storm on chat nodes: `drained` is asked to drain (`POST /drain`), and its clients come
 * back to `survivors`, each syncing from its cursor. The drained node is not a CPU group: it
 * exits during the storm, and its CPU falls in `other`.
 */
export function chatStorm(drained: NodeProcess, survivors: readonly NodeProcess[], cpu: { cassandra: readonly number[]; redis: readonly number[]; generator: readonly number[] }): StormCluster<ChatPosition> {
  const tokenOf = keptTokens(tokenFor);
  const openOn = async (node: NodeProcess, user: string): Promise<BenchSocket> => BenchSocket.open(`${node.wsUrl}/ws`, { authorization: `Bearer ${await tokenOf(user)}` });
  return {
    target: 'chat',
    drainHow: 'POST /drain',
    catchUpHow: 'syncs from its last cursor',
    openOnDrained: async (user, onFrame) => new ChatStormSocket(await openOn(drained, user), 0, onFrame),
    openOnSurvivor: async (user, index, from, onFrame) => new ChatStormSocket(await openOn(nodeAt(survivors, index), user), from, onFrame),
    openSender: (user, index) => openOn(nodeAt(survivors, index), user),
    survivors: survivors.length,
    drain: async () => {
      const response = await fetch(`${drained.adminUrl}/drain`, { method: 'POST', signal: AbortSignal.timeout(10_000) });
      if (response.status !== 202) throw new Error(`POST /drain answered ${response.status}`);
    },
    drainedExit: () => exited(drained.child),
    cpu: { server: pidsOf(survivors), ...cpu },
    survivorMetricsUrls: survivors.map((node) => `${node.adminUrl}/metrics`),
  };
}
