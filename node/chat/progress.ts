import type { Logger } from '../../common/log.js';
import type { Bus } from '../bus/bus.js';
import type { NodeMetrics } from '../metrics.js';
import { idTime, laterId } from '../protocol/cursor.js';
import type { InFlightMessages } from './in-flight.js';
import { clockToFollow, clusterWatermark } from './watermark.js';

export interface ClusterProgressDeps {
  nodeId: string;
  bus: Bus;
  inFlight: InFlightMessages;
  metrics: NodeMetrics;
  log: Logger;
  clock: () => number;
  /** How often watermarks are exchanged: the cursor trails the newest message by about two of these. */
  tickMs?: number;
  /**
   * The bus lost this node's published state (a Redis restarted without its data): an inbox
   * entry may have been lost with it, so what was delivered so far proves nothing.
   */
  onStateLost: () => void;
}

/** Furthest another node's clock may be ahead and still be followed (see clockToFollow). */
const MAX_FOLLOWED_LEAD_MS = 60_000;
/** How often an idle node still moves its delivered floor on (markers otherwise follow traffic only). */
const IDLE_MARKER_MS = 1_000;

/**
 * How far the cluster has got, as this node knows it. Two floors, both message ids:
 *
 * - `storedFloor`: the cluster watermark as last read. Every message with a lower id is
 *   stored (and routed), so a `sync` that reads after it sees all of them.
 * - `deliveredFloor`: every message with a lower id that was routed to this node has been
 *   delivered to its sockets. Each tick, after reading the watermarks, the node appends a
 *   marker with the cluster watermark W to its own inbox. A node finishes routing a message
 *   (its inbox entries appended) before its published watermark passes the message's id, so
 *   every entry for a message below W was appended before the watermarks were read, hence
 *   before the marker: consuming the marker means they were all delivered.
 *
 * A cursor handed to a client never passes the floor that holds for it (SocketCursors), so a
 * message still in flight anywhere, on a slow store, behind a Redis blip, or on a node whose
 * clock is off, is never skipped: it holds the floor back until it is visible.
 */
export class ClusterProgress {
  private settled: string[] = [];
  private publishedOnce = false;
  private stored: string | undefined;
  private delivered: string | undefined;
  private lastMarker: string | undefined;
  private lastMarkerAt = 0;
  private active = false;
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private failing = false;

  constructor(private readonly deps: ClusterProgressDeps) {}

  /** Every id below it is stored: the floor a `sync` reply may hand out. */
  get storedFloor(): string | undefined {
    return this.stored;
  }

  /** Every id below it that was routed here has reached this node's sockets. */
  get deliveredFloor(): string | undefined {
    return this.delivered;
  }

  /**
   * Joins the cluster before this node takes any id: publishes a first watermark, then moves
   * the id clock past every other node's watermark, so no id it takes can be below a floor
   * some cursor already passed.
   */
  async join(): Promise<void> {
    await this.exchange();
    await this.exchange();
  }

  /** Exchanges watermarks every tick until `stop`. */
  start(): void {
    this.timer = setInterval(() => {
      this.ticking ??= this.exchange()
        .catch((error: unknown) => {
          if (!this.failing) this.deps.log.warn({ err: error }, 'cannot exchange watermarks; cursors hold still until the bus is back');
          this.failing = true;
        })
        .finally(() => {
          this.ticking = undefined;
        });
    }, this.deps.tickMs ?? 50);
    this.timer.unref();
  }

  /** A message of this node is stored and routed (or was never stored): it no longer holds anyone back. */
  finished(id: string): void {
    this.deps.inFlight.finish(id);
    this.settled.push(id);
    this.active = true;
  }

  /** Something reached this node's inbox: the next tick moves the delivered floor on. */
  touch(): void {
    this.active = true;
  }

  /** This node's marker was consumed from its inbox. */
  reached(watermark: string): void {
    this.delivered = laterId(this.delivered, watermark);
  }

  /** Stops exchanging. When `leave` and nothing is in flight, takes this node out of the watermarks. */
  async stop(leave: boolean): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await this.ticking;
    if (!leave || this.deps.inFlight.inFlight > 0) return;
    // Messages still in flight stay recorded: a survivor routes them once this node's heartbeat lapses.
    await this.deps.bus.progress.forget(this.deps.nodeId);
  }

  private async exchange(): Promise<void> {
    const { nodeId, bus, inFlight, clock } = this.deps;
    const settled = this.settled;
    this.settled = [];
    const own = inFlight.watermark(clock());
    this.deps.metrics.messagesInFlight.set(inFlight.inFlight);
    if (this.delivered !== undefined) this.deps.metrics.cursorLag.set(Math.max(0, clock() - idTime(this.delivered)) / 1000);
    let published: Map<string, string>;
    try {
      published = await bus.progress.exchange(nodeId, own, settled);
    } catch (error) {
      this.settled = settled.concat(this.settled);
      throw error;
    }
    this.failing = false;
    if (this.publishedOnce && !published.has(nodeId)) {
      this.deps.log.warn('the bus lost this node’s watermark (Redis restarted without its data?); live cursors hold until clients sync again');
      this.deps.onStateLost();
    }
    this.publishedOnce = true;
    inFlight.follow(clockToFollow(published, nodeId, clock(), MAX_FOLLOWED_LEAD_MS));
    const watermark = clusterWatermark(published, nodeId, own);
    this.stored = laterId(this.stored, watermark);
    if (this.lastMarker !== undefined && watermark <= this.lastMarker) return;
    // Markers follow traffic: an idle node appends one a second, not one a tick.
    if (!this.active && clock() - this.lastMarkerAt < IDLE_MARKER_MS) return;
    this.active = false;
    await bus.inbox.publish(nodeId, { kind: 'watermark', value: watermark });
    this.lastMarker = watermark;
    this.lastMarkerAt = clock();
  }
}
