import type { ErrorCode, ServerFrame } from './frames.js';

/** An error in the protocol's words: one of its codes (or `connection`, the socket's own) and a message. */
export interface ProblemReport {
  code: ErrorCode | 'connection';
  message: string;
}

/** Any reply a request can get: every server frame but `error`, which rejects instead. */
export type Reply = Exclude<ServerFrame, { type: 'error' }>;

/** A request's `error` reply, or the socket closing before the reply came. */
export class RequestError extends Error {
  constructor(
    readonly code: ProblemReport['code'],
    message: string,
  ) {
    super(message);
  }
}

interface Waiter {
  resolve(frame: Reply): void;
  reject(error: RequestError): void;
}

/** Requests waiting for the reply that echoes their `ref`. */
export class PendingReplies {
  private readonly waiters = new Map<string, Waiter>();
  private next = 0;

  /** A fresh `ref`, and the reply that will carry it. */
  open(): { ref: string; reply: Promise<Reply> } {
    const ref = `r${++this.next}`;
    const reply = new Promise<Reply>((resolve, reject) => {
      this.waiters.set(ref, { resolve, reject });
    });
    return { ref, reply };
  }

  /** A fresh `ref` nobody waits for (a request whose reply is handled as an event). */
  unawaited(): string {
    return `r${++this.next}`;
  }

  /** Resolves the request with this `ref`; false when none waits for it. */
  settle(ref: string | undefined, frame: Reply): boolean {
    const waiter = ref === undefined ? undefined : this.waiters.get(ref);
    if (ref === undefined || waiter === undefined) return false;
    this.waiters.delete(ref);
    waiter.resolve(frame);
    return true;
  }

  /** Rejects the request with this `ref`; false when none waits for it. */
  fail(ref: string | undefined, error: RequestError): boolean {
    const waiter = ref === undefined ? undefined : this.waiters.get(ref);
    if (ref === undefined || waiter === undefined) return false;
    this.waiters.delete(ref);
    waiter.reject(error);
    return true;
  }

  failAll(error: RequestError): void {
    for (const waiter of this.waiters.values()) waiter.reject(error);
    this.waiters.clear();
  }
}
