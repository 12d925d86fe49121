import type { Frame } from './bench-socket.js';

/** Refs are unique in the process, not per instance: a late reply to one instance's request must not answer another's. */
let nextRef = 0;

/**
 * Requests sent with a `ref` and the frames that answer them, which carry that `ref` back
 * (the protocol's replies). One instance may serve many sockets.
 */
export class RefRequests {
  private readonly pending = new Map<string, (reply: Frame) => void>();

  /** How many requests still await their reply. */
  get waiting(): number {
    return this.pending.size;
  }

  /**
   * Sends `frame` with a fresh ref through `socket`; resolves with the frame that answers it,
   * and rejects when none came within `timeoutMs`, or when `expected` is given and the reply
   * is of another type (an error, or the socket closed).
   */
  request(socket: { send(frame: Record<string, unknown>): void }, frame: Record<string, unknown>, timeoutMs: number, expected?: string): Promise<Frame> {
    const ref = `req-${nextRef++}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(ref);
        reject(new Error(`no reply to ${String(frame.type)} within ${timeoutMs} ms (${this.pending.size} more awaited)`));
      }, timeoutMs);
      this.pending.set(ref, (reply) => {
        clearTimeout(timer);
        if (expected === undefined || reply.type === expected) resolve(reply);
        else reject(new Error(`${String(frame.type)} answered ${JSON.stringify(reply).slice(0, 200)}`));
      });
      try {
        socket.send({ ...frame, ref });
      } catch (error) {
        clearTimeout(timer);
        this.pending.delete(ref);
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
  }

  /** Hands `frame` to the request it answers; false when it answers none (not a reply, or one too late). */
  answer(frame: Frame): boolean {
    if (typeof frame.ref !== 'string') return false;
    const resolve = this.pending.get(frame.ref);
    if (resolve === undefined) return false;
    this.pending.delete(frame.ref);
    resolve(frame);
    return true;
  }

  /** Answers every request still waiting with `frame` (e.g. the socket closed: no reply will come). */
  answerAll(frame: Frame): void {
    const waiting = [...this.pending.values()];
    this.pending.clear();
    for (const resolve of waiting) resolve(frame);
  }
}
