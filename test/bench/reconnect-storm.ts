import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { closeAll, OpenFailure, openMany, type BenchSocket, type Frame, type FrameHandler, type LoadSocket, type OpenFailureKind } from './bench-socket.js';
import { progress } from './lifecycle.js';
import { CpuMeter, histogramCount, histogramMeanMs, listenOverflows, readMetrics, roundCores, STORE_LATENCY } from './process-figures.js';
import { percentiles, round, type Percentiles } from './statistics.js';

/**
 * One storm client's connection, on any target: the frames a LoadSocket hands over (a
 * message caught up after a reconnect carries `caughtUp: true`), a way to be told to leave,
 * and what a successor needs to catch up without losing a message.
 */
export interface StormSocket<Position> extends LoadSocket {
  /** Called when the server asks the client to go (chat's `drain` frame), with the delay it names. */
  onDrain: (reconnectAfterMs: number, at: number) => void;
  /** Called once when the connection ends, with how (a close code, or a peer's disconnect reason). */
  onEnd: (how: string, at: number) => void;
  /**
   * Brings the client up to date after it (re)connected: chat syncs from its cursor, page by
   * page; a peer's recovery came with its connect, so it only says whether that recovery
   * was complete. Caught-up messages reach `onFrame` before this resolves.
   */
  catchUp(): Promise<CatchUp>;
  /** Where a successor resumes from: chat's cursor, Socket.IO's session and offset, Centrifugo's stream position. */
  position(): Position;
  /** How the open went, ms after it began, where the target's client tells (chat's sockets). */
  readonly opening?: BenchSocket['opening'];
}

export interface CatchUp {
  /** Requests the catch-up took (chat's sync pages; 0 where it came with the connect). */
  pages: number;
  /** The target vouches that nothing was missed (chat's sync always does; a peer's recovery may not). */
  complete: boolean;
}

/** The `index`th of `nodes`, round and round: where a storm client with that index (and attempt) goes. */
export function nodeAt<T>(nodes: readonly T[], index: number): T {
  const node = nodes[index % nodes.length];
  if (node === undefined) throw new Error('no node to connect to');
  return node;
}

/** Where the storm happens: the node that is drained, and the nodes its clients come back to ("the load balancer"). */
export interface StormCluster<Position> {
  /** Chat, or a peer's name. */
  target: string;
  /** How the node is drained and how a client catches up, for the report. */
  drainHow: string;
  catchUpHow: string;
  /**
   * Opens `user`'s connection on the node to be drained, its frames to `onFrame` from the
   * start (a peer's recovery hands over what it recovered before its open resolves).
   */
  openOnDrained(user: string, onFrame: FrameHandler): Promise<StormSocket<Position>>;
  /** Opens `user`'s connection on surviving node `node` (modulo their count), to resume from `from`. */
  openOnSurvivor(user: string, node: number, from: Position, onFrame: FrameHandler): Promise<StormSocket<Position>>;
  /** Opens a sender of the direct load on surviving node `node`. */
  openSender(user: string, node: number): Promise<LoadSocket>;
  survivors: number;
  /** Asks the drained node to drain (chat: its admin port's `POST /drain`; a peer: SIGTERM). */
  drain(): Promise<void>;
  /** Resolves once the drained node's process has exited. */
  drainedExit(): Promise<void>;
  /** Processes whose CPU the storm reports, by group (`server`: the surviving nodes, as in the direct scenario). */
  cpu: Record<string, readonly number[]>;
  /** The surviving chat nodes' `/metrics`, whose store timings tell what the storm asked of Cassandra (none on a peer). */
  survivorMetricsUrls?: readonly string[];
}

/** The store operations a socket's registration and its sync make, whose calls the storm counts. */
const STORM_STORE_OPERATIONS = ['put_session', 'groups_of', 'sync'] as const;

export interface StormOptions {
  sockets: number;
  /** Sockets opening at once before the storm (the storm itself is not throttled: every client reconnects when told). */
  openConcurrency: number;
  /** Direct messages per second to the storm's users from senders on the surviving nodes; 0 for none. */
  messagesPerSecond: number;
  senders: number;
  /** Clients not back and synced by then count as failed. */
  deadlineMs: number;
}

export interface StormResult {
  target: string;
  drainHow: string;
  catchUpHow: string;
  sockets: number;
  opened: number;
  openFailures: number;
  openMs: number;
  survivors: number;
  /** Clients that reconnected to a survivor and finished their catch-up (chat: sync). */
  backAndSynced: number;
  /** Of those, clients whose catch-up the target did not vouch for (a peer's recovery that failed, or none to try). */
  notRecovered: number;
  failed: number;
  firstFailure: string | null;
  /** Connection attempts in all, and clients that needed more than one. */
  attempts: number;
  retried: number;
  /** Per client, from its `drain` frame (or close, if no drain frame came) to its first connect attempt (after it dropped its old socket and the generator gave it a turn). */
  firstAttemptMs: Percentiles;
  /** Per client, from its `drain` frame (or close, if no drain frame came) to its new connection being up (chat: `hello`; a peer: connected, and subscribed on Centrifugo). */
  reconnectMs: Percentiles;
  /** Per client, from its `drain` frame to the end of its catch-up (chat: its last sync page). */
  reconnectAndSyncMs: Percentiles;
  /** From `POST /drain` until the last client was back and synced (the last that was, when some never were). */
  totalMs: number;
  /**
   * Cores each group used on average from `POST /drain` until the last client was synced, with
   * `machine` (all of it) and `other` (the machine less the groups: the drained node, and
   * anything else running).
   */
  cpuCores: Record<string, number>;
  /** The span `cpuCores` was measured over. */
  cpuSeconds: number;
  /**
   * The generator's own event-loop delay meanwhile (p50, p99, max in ms): how late it may
   * have read what the nodes sent, and so how much of each client's time is the generator's.
   */
  generatorLagMs: { p50: number; p99: number; max: number };
  /** Connections the kernel dropped meanwhile for a full accept queue (null: not readable here). */
  listenOverflows: number | null;
  /** Where the bench bounded Redis's client memory (Socket.IO's recovery): the bound, and the connections Redis closed to stay under it. */
  redisClientMemory?: { limitBytes: number; clientsEvicted: number };
  /** From `POST /drain` until the drained node's process exited (null: not by the deadline). */
  drainedExitMs: number | null;
  /** Clients that got a `drain` frame before the close, and how their drained connections ended (chat: 1001, the node closed first; 1005 or 1006, the client did, as told; a peer: its disconnect reason). */
  drainFrames: number;
  /** The largest `reconnectAfterMs` a drain frame named (0: the node told them all to come back at once). */
  reconnectAfterMsMax: number;
  closeCodes: Record<string, number>;
  /**
   * Per store operation of a registration and a sync, on the survivors from `POST /drain`
   * until all were synced: calls per client back and synced, and their mean time (ms). The
   * calls of failed attempts count, `put_session` also counts the survivors' heartbeat
   * refreshes of their sessions, and `sync` counts pages.
   */
  storeOperations: Record<string, { perClient: number; meanMs: number | null }>;
  /** Per `TIMELINE_STEP_MS` since `POST /drain`: clients back, clients synced, and failed attempts by why. */
  timeline: StormStep[];
  /** The first failure message of each kind in the timeline. */
  failureExamples: Partial<Record<AttemptFailureKind, string>>;
  syncPages: number;
  messagesInSync: number;
  /** The direct-message load during the storm, when one ran. */
  messages: {
    perSecond: number;
    sent: number;
    acked: number;
    errors: Record<string, number>;
    /** Acked, and reached its recipient live or in a sync reply. */
    received: number;
    receivedLive: number;
    receivedBySyncOnly: number;
    /** Acked, and not at its recipient (which came back and caught up) 15 s after the load stopped: 0 where the target recovers what a client missed. */
    lost: number;
    /** Acked, to a recipient that never came back and synced within the deadline: neither seen nor lost. */
    unverified: number;
    /**
     * The first lost messages (at most 5), each with when it was sent and when its recipient
     * left and was back (ms after the drain began; null: not in the storm, or never back): whether a
     * loss falls in a client's absence, or at its return.
     */
    lostExamples: { seq: number; sentMs: number; recipientLeftMs: number | null; recipientBackMs: number | null }[];
  } | null;
}

/** Why an attempt failed: its open (OpenFailureKind; a refusal as `HTTP <status>`), or the catch-up on the connection it opened. */
export type AttemptFailureKind = Exclude<OpenFailureKind, 'refused'> | `HTTP ${number}` | 'catch-up';

/** What happened in one step of the storm, counted by when it happened. */
export interface StormStep {
  /** The step's start, ms after `POST /drain`. */
  atMs: number;
  /** Sockets opened (`hello` received), counting every attempt that got one. */
  hellos: number;
  /** Clients whose sync finished. */
  synced: number;
  /** Failed attempts by why. */
  failures: Partial<Record<AttemptFailureKind, number>>;
  /** Of the hellos in this step, the median ms of each part of their opening: TCP connect, then the upgrade's answer, then `hello`. */
  openingMedianMs: { connect: number; upgrade: number; hello: number } | null;
}

const TIMELINE_STEP_MS = 5_000;
/** How finely the generator's event-loop delay is sampled. */
const LAG_RESOLUTION_MS = 10;
/** How long the storm's end waits for acked messages still on their way before counting any as lost. */
const SETTLE_MS = 15_000;

/** A failed attempt's kind, for the timeline: what its open said (a peer's client says only `error`), or its catch-up if the open went. */
function failureKind(error: unknown, opened: boolean): AttemptFailureKind {
  if (opened) return 'catch-up';
  if (!(error instanceof OpenFailure)) return 'error';
  return error.kind === 'refused' ? `HTTP ${error.status ?? 0}` : error.kind;
}

/** The storm's clients' hellos, syncs and failed attempts, counted per step since the drain. */
function timelineOf(clients: readonly StormClient<unknown>[], drainStarted: number): StormStep[] {
  const steps: StormStep[] = [];
  const openings = new Map<StormStep, Required<BenchSocket['opening']>[]>();
  const stepAt = (at: number): StormStep => {
    const index = Math.max(0, Math.floor((at - drainStarted) / TIMELINE_STEP_MS));
    let step = steps[index];
    while (step === undefined) {
      steps.push({ atMs: steps.length * TIMELINE_STEP_MS, hellos: 0, synced: 0, failures: {}, openingMedianMs: null });
      step = steps[index];
    }
    return step;
  };
  for (const client of clients) {
    for (const open of client.opens) {
      const step = stepAt(open.at);
      step.hellos += 1;
      const { connectedMs, upgradedMs, helloMs } = open.opening ?? {};
      // An open that missed a timestamp (no TCP connect seen) would make a phase up.
      if (connectedMs !== undefined && upgradedMs !== undefined && helloMs !== undefined) {
        const inStep = openings.get(step) ?? [];
        inStep.push({ connectedMs, upgradedMs, helloMs });
        openings.set(step, inStep);
      }
    }
    if (client.syncedAt !== undefined) stepAt(client.syncedAt).synced += 1;
    for (const failure of client.failures) {
      const step = stepAt(failure.at);
      step.failures[failure.kind] = (step.failures[failure.kind] ?? 0) + 1;
    }
  }
  for (const [step, opened] of openings) {
    const median = (values: number[]): number => percentiles(values).p50 ?? 0;
    step.openingMedianMs = {
      connect: median(opened.map((opening) => opening.connectedMs)),
      upgrade: median(opened.map((opening) => opening.upgradedMs - opening.connectedMs)),
      hello: median(opened.map((opening) => opening.helloMs - opening.upgradedMs)),
    };
  }
  return steps;
}

/**
 * Lets at most `perTurn` clients start a connect attempt per turn of the generator's event
 * loop. Real clients each have a machine of their own; these 10,000 share one thread, and
 * when they all came back at once (their drain frames, or their timeouts, falling due
 * together) the generator spent seconds opening sockets in one turn while reading nothing,
 * so the hellos it had asked for arrived "late" and its clients gave up.
 */
class Turnstile {
  private readonly waiting: (() => void)[] = [];
  private scheduled = false;

  constructor(private readonly perTurn: number) {}

  enter(): Promise<void> {
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      for (const admit of this.waiting.splice(0, this.perTurn)) admit();
      if (this.waiting.length > 0) this.schedule();
    });
  }
}

/** Connect attempts the generator starts per turn of its event loop. */
const ATTEMPTS_PER_TURN = 50;

/** One storm user's client, doing what a real client does: keep its position, reconnect when drained, catch up from there. */
class StormClient<Position> {
  socket: StormSocket<Position> | undefined;
  drainAt: number | undefined;
  reconnectAfterMs = 0;
  syncedAt: number | undefined;
  /** Its catch-up after the storm came without the target vouching for it. */
  notRecovered = false;
  attempts = 0;
  readonly failures: { at: number; kind: AttemptFailureKind; message: string }[] = [];
  /** Every connection it opened in the storm: when it was up, and how the open went. */
  readonly opens: { at: number; opening: BenchSocket['opening'] | undefined }[] = [];
  /** When its latest connection was up. */
  get backAt(): number | undefined {
    return this.opens.at(-1)?.at;
  }

  /** Why its latest attempt failed. */
  get failure(): string | undefined {
    return this.failures.at(-1)?.message;
  }

  /** When it first tried to connect again. */
  firstAttemptAt: number | undefined;
  endedHow: string | undefined;
  sawDrainFrame = false;
  syncPages = 0;
  messagesInSync = 0;

  constructor(
    readonly user: string,
    readonly index: number,
    private readonly onMessage: (frame: Frame, how: 'live' | 'sync') => void,
  ) {}

  /** Records the messages of every connection it opens (handed to each opener, so none is missed before `attach`). */
  readonly onFrame: FrameHandler = (frame) => {
    if (frame.type !== 'message') return;
    const how = frame.caughtUp === true ? 'sync' : 'live';
    if (how === 'sync') this.messagesInSync += 1;
    this.onMessage(frame, how);
  };

  /** Uses `socket` from now on; `onLeave` runs once, on a drain request or the end, whichever comes first. */
  attach(socket: StormSocket<Position>, onLeave: () => void): void {
    this.socket = socket;
    let left = false;
    const leave = (): void => {
      if (left) return;
      left = true;
      onLeave();
    };
    socket.onDrain = (reconnectAfterMs, at) => {
      this.sawDrainFrame = true;
      this.drainAt ??= at;
      this.reconnectAfterMs = reconnectAfterMs;
      leave();
    };
    socket.onEnd = (how, at) => {
      // The first end is the drained connection's.
      this.endedHow ??= how;
      this.drainAt ??= at;
      leave();
    };
  }

  /** Catches up on its current connection. */
  async catchUp(): Promise<CatchUp> {
    const socket = this.socket;
    if (socket === undefined) throw new Error('no connection to catch up on');
    const caughtUp = await socket.catchUp();
    this.syncPages += caughtUp.pages;
    return caughtUp;
  }
}

/**
 * The reconnect storm: `sockets` clients on one node, each caught up once; then the node is
 * drained and every client reconnects to a survivor (its index picks which; a refused
 * connect tries the next, with a capped backoff) and catches up from its position. A light
 * direct load to those users runs throughout, and every acked message must reach its
 * recipient live or in the catch-up.
 */
export async function measureReconnectStorm<Position>(cluster: StormCluster<Position>, options: StormOptions): Promise<StormResult> {
  const received = new Map<number, 'live' | 'sync'>();
  const onMessage = (frame: Frame, how: 'live' | 'sync'): void => {
    if (typeof frame.text !== 'string' || !frame.text.startsWith('storm-')) return;
    const seq = Number.parseInt(frame.text.slice(6), 10);
    if (!received.has(seq)) received.set(seq, how);
  };
  const clients = Array.from({ length: options.sockets }, (_, index) => new StormClient<Position>(`storm-u${index}`, index, onMessage));
  let stormStarted = false;
  const reconnects: Promise<void>[] = [];
  const turnstile = new Turnstile(ATTEMPTS_PER_TURN);
  let deadlineAt = Number.POSITIVE_INFINITY;

  // As the web client does: on `drain`, wait the delay it names, drop the socket, connect again.
  const reconnect = async (client: StormClient<Position>): Promise<void> => {
    if (client.reconnectAfterMs > 0) await sleep(client.reconnectAfterMs);
    let backoffMs = 50;
    for (;;) {
      // The drained socket, or a new one whose catch-up failed, is dropped before the next
      // opens (a close frame, then the connection, without waiting for the handshake): a
      // client does not wait for it, and 10,000 clients in one process holding two sockets
      // each would run out of descriptors (EMFILE), which clients on their own machines never do.
      const previous = client.socket;
      if (previous === undefined) return;
      const from = previous.position();
      await previous.close(0);
      await turnstile.enter();
      const node = client.index + client.attempts;
      client.attempts += 1;
      client.firstAttemptAt ??= performance.now();
      let opened = false;
      try {
        const socket = await cluster.openOnSurvivor(client.user, node, from, client.onFrame);
        opened = true;
        client.opens.push({ at: performance.now(), opening: socket.opening });
        client.attach(socket, () => undefined);
        const caughtUp = await client.catchUp();
        client.notRecovered = !caughtUp.complete;
        client.syncedAt = performance.now();
        return;
      } catch (error) {
        client.failures.push({ at: performance.now(), kind: failureKind(error, opened), message: error instanceof Error ? error.message : String(error) });
        if (performance.now() + backoffMs > deadlineAt) return;
        await sleep(backoffMs * (0.5 + Math.random()));
        backoffMs = Math.min(backoffMs * 2, 2_000);
      }
    }
  };

  progress(`storm on ${cluster.target}: opening ${options.sockets} sockets on the node to be drained, ${options.openConcurrency} at a time, each caught up once`);
  const opened = await openMany(
    options.sockets,
    options.openConcurrency,
    async (index) => {
      const client = clients[index];
      if (client === undefined) throw new Error('no client');
      const socket = await cluster.openOnDrained(client.user, client.onFrame);
      client.attach(socket, () => {
        if (stormStarted) reconnects.push(reconnect(client));
      });
      await client.catchUp();
      return socket;
    },
    Math.ceil(options.sockets * 0.05),
  );

  const senders: LoadSocket[] = [];
  const load = { sent: 0, sentAt: new Map<number, number>(), acked: new Set<number>(), errors: {} as Record<string, number>, stop: false };
  let loadDone: Promise<void> = Promise.resolve();
  // Message `seq` goes to the seq-th opened client, round and round.
  const recipients = clients.filter((client) => client.socket !== undefined);
  const recipientOf = (seq: number): StormClient<Position> | undefined => recipients[seq % Math.max(1, recipients.length)];
  const storming = opened.sockets.length;
  try {
    if (opened.failures.length > 0) progress(`storm: ${opened.failures.length} sockets did not open: ${opened.failures[0] ?? ''}`);
    if (options.messagesPerSecond > 0) {
      for (let index = 0; index < options.senders; index++) {
        const sender = await cluster.openSender(`storm-s${index}`, index);
        sender.onFrame = (frame) => {
          if (typeof frame.ref !== 'string' || !frame.ref.startsWith('m-')) return;
          const seq = Number.parseInt(frame.ref.slice(2), 10);
          if (frame.type === 'ack') load.acked.add(seq);
          else if (frame.type === 'error') load.errors[String(frame.code)] = (load.errors[String(frame.code)] ?? 0) + 1;
        };
        senders.push(sender);
      }
      loadDone = sendDirectLoad(senders, recipientOf, options.messagesPerSecond, load);
      await sleep(2_000);
    }

    progress(`storm on ${cluster.target}: draining the node with ${storming} sockets; its clients reconnect to ${cluster.survivors} nodes and catch up`);
    stormStarted = true;
    const cpu = new CpuMeter(cluster.cpu);
    const overflowsBefore = listenOverflows();
    const metricsUrls = cluster.survivorMetricsUrls ?? [];
    const storeBefore = await Promise.all(metricsUrls.map(readMetrics));
    const lag = monitorEventLoopDelay({ resolution: LAG_RESOLUTION_MS });
    lag.enable();
    cpu.start();
    const cpuStartedAt = performance.now();
    const drainStarted = performance.now();
    deadlineAt = drainStarted + options.deadlineMs;
    let drainedExitAt: number | undefined;
    void cluster.drainedExit().then(() => {
      drainedExitAt = performance.now();
    });
    await cluster.drain();
    const isDone = (client: StormClient<Position>): boolean => client.syncedAt !== undefined;
    while (performance.now() < deadlineAt) {
      const done = clients.filter(isDone).length;
      if (done >= storming && reconnects.length >= storming) break;
      await sleep(50);
    }
    const lastSynced = Math.max(drainStarted, ...clients.flatMap((client) => (client.syncedAt === undefined ? [] : [client.syncedAt])));
    const totalMs = round(lastSynced - drainStarted, 1);
    lag.disable();
    // The histogram holds each whole timer interval: less the resolution, it is the delay.
    const delayMs = (nanoseconds: number): number => round(Math.max(0, nanoseconds / 1e6 - LAG_RESOLUTION_MS), 1);
    const generatorLagMs = { p50: delayMs(lag.percentile(50)), p99: delayMs(lag.percentile(99)), max: delayMs(lag.max) };
    const overflowsAfter = listenOverflows();
    const overflows = overflowsBefore === undefined || overflowsAfter === undefined ? null : overflowsAfter - overflowsBefore;
    const cpuCores = roundCores(cpu.stop());
    const cpuSeconds = round((performance.now() - cpuStartedAt) / 1000, 2);
    const storeAfter = await Promise.all(metricsUrls.map(readMetrics));
    const syncedClients = clients.filter(isDone).length;
    const storeOperations = Object.fromEntries(
      (metricsUrls.length === 0 ? [] : STORM_STORE_OPERATIONS).map((operation) => {
        const labels = `{operation="${operation}"}`;
        const calls = histogramCount(storeBefore, storeAfter, STORE_LATENCY, labels);
        return [operation, { perClient: round(calls / Math.max(1, syncedClients), 2), meanMs: histogramMeanMs(storeBefore, storeAfter, STORE_LATENCY, labels) }];
      }),
    );
    progress(`storm on ${cluster.target}: ${syncedClients}/${storming} back and caught up after ${totalMs} ms`);
    // Reconnects still retrying stop at the deadline.
    await Promise.race([Promise.all(reconnects), sleep(Math.max(0, deadlineAt - performance.now()) + 2_500)]);

    let messages: StormResult['messages'] = null;
    if (options.messagesPerSecond > 0) {
      await sleep(2_000);
      load.stop = true;
      await loadDone;
      // Time for the last acks and live frames: a loaded node may be seconds behind, so it
      // waits until every acked message to a client that is back has arrived, up to a bound.
      const missing = (): number => [...load.acked].filter((seq) => !received.has(seq) && recipientOf(seq)?.syncedAt !== undefined).length;
      const settleBy = performance.now() + SETTLE_MS;
      await sleep(1_000);
      while (missing() > 0 && performance.now() < settleBy) await sleep(250);
      let receivedLive = 0;
      let receivedBySyncOnly = 0;
      let lost = 0;
      let unverified = 0;
      const lostExamples: NonNullable<StormResult['messages']>['lostExamples'] = [];
      const sinceDrain = (at: number | undefined): number | null => (at === undefined ? null : round(at - drainStarted, 1));
      for (const seq of load.acked) {
        const how = received.get(seq);
        const recipient = recipientOf(seq);
        if (how === 'live') receivedLive += 1;
        else if (how === 'sync') receivedBySyncOnly += 1;
        else if (recipient?.syncedAt === undefined) unverified += 1;
        else {
          lost += 1;
          if (lostExamples.length < 5) {
            lostExamples.push({ seq, sentMs: sinceDrain(load.sentAt.get(seq)) ?? 0, recipientLeftMs: sinceDrain(recipient.drainAt), recipientBackMs: sinceDrain(recipient.backAt) });
          }
        }
      }
      messages = {
        perSecond: options.messagesPerSecond,
        sent: load.sent,
        acked: load.acked.size,
        errors: load.errors,
        received: receivedLive + receivedBySyncOnly,
        receivedLive,
        receivedBySyncOnly,
        lost,
        unverified,
        lostExamples,
      };
    }

    const inStorm = clients.filter((client) => client.drainAt !== undefined);
    const failedClients = inStorm.filter((client) => !isDone(client));
    const closeCodes: Record<string, number> = {};
    for (const client of inStorm) closeCodes[client.endedHow ?? 'none'] = (closeCodes[client.endedHow ?? 'none'] ?? 0) + 1;
    return {
      target: cluster.target,
      drainHow: cluster.drainHow,
      catchUpHow: cluster.catchUpHow,
      sockets: options.sockets,
      opened: storming,
      openFailures: opened.failures.length,
      openMs: Math.round(opened.elapsedMs),
      survivors: cluster.survivors,
      backAndSynced: inStorm.length - failedClients.length,
      notRecovered: inStorm.filter((client) => isDone(client) && client.notRecovered).length,
      failed: failedClients.length + (storming - inStorm.length),
      firstFailure: failedClients[0]?.failure ?? (storming > inStorm.length ? 'a client was never closed by the drain' : null),
      attempts: inStorm.reduce((sum, client) => sum + client.attempts, 0),
      retried: inStorm.filter((client) => client.attempts > 1).length,
      firstAttemptMs: percentiles(inStorm.flatMap((client) => (client.firstAttemptAt === undefined || client.drainAt === undefined ? [] : [client.firstAttemptAt - client.drainAt]))),
      reconnectMs: percentiles(inStorm.flatMap((client) => (client.backAt === undefined || client.drainAt === undefined ? [] : [client.backAt - client.drainAt]))),
      reconnectAndSyncMs: percentiles(inStorm.flatMap((client) => (client.syncedAt === undefined || client.drainAt === undefined ? [] : [client.syncedAt - client.drainAt]))),
      totalMs,
      cpuCores,
      cpuSeconds,
      listenOverflows: overflows,
      storeOperations,
      generatorLagMs,
      drainedExitMs: drainedExitAt === undefined ? null : round(drainedExitAt - drainStarted, 1),
      drainFrames: inStorm.filter((client) => client.sawDrainFrame).length,
      reconnectAfterMsMax: Math.max(0, ...inStorm.map((client) => client.reconnectAfterMs)),
      closeCodes,
      timeline: timelineOf(inStorm, drainStarted),
      failureExamples: Object.fromEntries(
        inStorm
          .flatMap((client) => client.failures)
          // Newest first, so the oldest of each kind is the one kept.
          .sort((a, b) => b.at - a.at)
          .map((failure) => [failure.kind, failure.message]),
      ),
      syncPages: inStorm.reduce((sum, client) => sum + client.syncPages, 0),
      messagesInSync: inStorm.reduce((sum, client) => sum + client.messagesInSync, 0),
      messages,
    };
  } finally {
    load.stop = true;
    await loadDone;
    progress(`storm on ${cluster.target}: closing every socket`);
    await closeAll([...senders, ...clients.flatMap((client) => (client.socket === undefined ? [] : [client.socket]))]);
  }
}

/** Direct messages at `perSecond`, round-robin from the senders to the storm's users, until `load.stop`. */
async function sendDirectLoad(
  senders: readonly LoadSocket[],
  recipientOf: (seq: number) => { user: string } | undefined,
  perSecond: number,
  load: { sent: number; sentAt: Map<number, number>; stop: boolean },
): Promise<void> {
  const startedAt = performance.now();
  const gapMs = 1000 / perSecond;
  for (let seq = 0; !load.stop; seq++) {
    const wait = startedAt + seq * gapMs - performance.now();
    if (wait > 0) await sleep(wait);
    const sender = senders[seq % senders.length];
    const recipient = recipientOf(seq);
    if (sender === undefined || recipient === undefined || !sender.isOpen) continue;
    sender.send({ type: 'send', ref: `m-${seq}`, to: { user: recipient.user }, text: `storm-${seq} a direct message during the storm` });
    load.sentAt.set(seq, performance.now());
    load.sent += 1;
  }
}

/**
 * A client keeps its token and presents it again when it reconnects. Minting one per attempt
 * made the generator itself stall: thousands of retries falling due together each signed a
 * JWT before connecting, in one turn of its event loop. A token that could not be minted is
 * minted again next time, not failed for good.
 */
export function keptTokens(mint: (user: string) => Promise<string>): (user: string) => Promise<string> {
  const tokens = new Map<string, Promise<string>>();
  return (user) => {
    let token = tokens.get(user);
    if (token === undefined) {
      token = mint(user);
      tokens.set(user, token);
      token.catch(() => tokens.delete(user));
    }
    return token;
  };
}
