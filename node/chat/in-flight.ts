import { earlierId, idFloorAt } from '../protocol/cursor.js';
import { messageIdGenerator } from '../protocol/ids.js';

/**
 * This node's message ids and the ones still in flight: taken when a send is accepted,
 * finished once the message is stored and routed. Its `watermark` is the lowest id the
 * node may still make visible: every id below it is stored and routed already, now and
 * later. That holds because
 *   - ids come from a clock that never goes back (`clockFloor` only rises, even when the
 *     system clock steps back), through a monotonic ULID generator, so every id taken from
 *     now on is ≥ `idFloorAt(clockFloor)`;
 *   - and every id taken earlier and not finished is in `open`.
 * Pure state, no I/O: ClusterProgress publishes the watermark.
 */
export class InFlightMessages {
  private readonly next = messageIdGenerator();
  private readonly open = new Set<string>();
  private clockFloor = 0;

  /** Takes the id of an accepted message, which is in flight until `finish`. */
  take(now: number): string {
    this.clockFloor = Math.max(this.clockFloor, now);
    const id = this.next(this.clockFloor);
    this.open.add(id);
    return id;
  }

  /** Marks a message stored and routed (or abandoned: it never became visible). */
  finish(id: string): void {
    this.open.delete(id);
  }

  get inFlight(): number {
    return this.open.size;
  }

  /**
   * Moves the clock up to `ms` (a hybrid logical clock): a node whose clock is behind the
   * cluster's would otherwise take ids in the past and hold every cursor back by its skew.
   */
  follow(ms: number): void {
    this.clockFloor = Math.max(this.clockFloor, ms);
  }

  /** The lowest id this node may still make visible (see the class comment). */
  watermark(now: number): string {
    this.clockFloor = Math.max(this.clockFloor, now);
    let lowest: string = idFloorAt(this.clockFloor);
    for (const id of this.open) lowest = earlierId(lowest, id) ?? lowest;
    return lowest;
  }
}
