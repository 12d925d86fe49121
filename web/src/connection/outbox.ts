import type { Target } from './frames.js';
import type { ProblemReport } from './replies.js';

/** A message the user sent that has no `ack` yet: on its way, or failed and offered for retry. */
export interface PendingSend {
  idem: string;
  to: Target;
  conv: string;
  text: string;
  status: 'sending' | 'failed';
  error?: ProblemReport;
}

/**
 * The user's messages that have no `ack` yet, by idempotency key: on their way (written
 * again on every new socket until acked) or failed (kept for a retry with the same key).
 */
export class Outbox {
  private readonly sends = new Map<string, PendingSend>();
  /** Keys written on the current socket. */
  private readonly written = new Set<string>();

  constructor(private readonly changed: (sends: readonly PendingSend[]) => void) {}

  add(send: PendingSend): void {
    this.sends.set(send.idem, send);
    this.emit();
  }

  /** Puts a failed send back on its way; returns it, or undefined if it is not held. */
  retry(idem: string): PendingSend | undefined {
    const pending = this.sends.get(idem);
    if (pending === undefined) return undefined;
    const again: PendingSend = { idem, to: pending.to, conv: pending.conv, text: pending.text, status: 'sending' };
    this.sends.set(idem, again);
    this.emit();
    return again;
  }

  discard(idem: string): void {
    this.written.delete(idem);
    if (this.sends.delete(idem)) this.emit();
  }

  /** The sends to write on a new socket: all those on their way. */
  onTheirWay(): PendingSend[] {
    return [...this.sends.values()].filter((send) => send.status === 'sending');
  }

  get(idem: string): PendingSend | undefined {
    return this.sends.get(idem);
  }

  wrote(idem: string): void {
    this.written.add(idem);
  }

  /** A new socket: nothing is written on it yet. */
  newSocket(): void {
    this.written.clear();
  }

  /** The node acked it: it leaves the outbox (the caller shows it as a message). */
  acked(idem: string): PendingSend | undefined {
    const pending = this.sends.get(idem);
    if (pending === undefined) return undefined;
    this.sends.delete(idem);
    this.written.delete(idem);
    this.emit();
    return pending;
  }

  fail(idem: string, error: ProblemReport): void {
    const pending = this.sends.get(idem);
    if (pending === undefined) return;
    this.sends.set(idem, { ...pending, status: 'failed', error });
    this.written.delete(idem);
    this.emit();
  }

  /** The largest send written on the current socket: the one a 1009 close (frame too large) was for. */
  largestWritten(): PendingSend | undefined {
    let largest: PendingSend | undefined;
    for (const idem of this.written) {
      const pending = this.sends.get(idem);
      if (pending !== undefined && (largest === undefined || pending.text.length > largest.text.length)) largest = pending;
    }
    return largest;
  }

  private emit(): void {
    this.changed([...this.sends.values()]);
  }
}
