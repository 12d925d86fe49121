import WebSocket from 'ws';
import type { FuzzCase } from './fuzz-corpus.js';
import { ChatClient } from './chat-client.js';

/** What one node's fuzz run saw. */
export interface FuzzTally {
  framesSent: number;
  socketsOpened: number;
  /** Close codes of the fuzzing sockets, by code. */
  closeCodes: Record<string, number>;
  /** `error` frames received, by protocol code. */
  errorCodes: Record<string, number>;
  /** What the node did that the protocol does not allow (empty when it behaved). */
  violations: string[];
  elapsedMs: number;
}

export interface FuzzRunOptions {
  wsUrl: string;
  corpus: readonly FuzzCase[];
  random: () => number;
  /** Stop after this many frames, or at `deadline` (ms since epoch), whichever comes first. */
  frames: number;
  deadline: number;
  /** Sockets fuzzing at once. */
  concurrency: number;
  /** Frames sent back to back before waiting for their answers. */
  batchSize: number;
  /** The node's sustained-abuse limit: bad or rate-limited frames past it close with 1008. */
  abuseLimit: number;
  /** ... within this many milliseconds (a sliding window: older offences no longer count). */
  abuseWindowMs: number;
  tokenFor(user: string): Promise<string>;
}

const MAX_VIOLATIONS_KEPT = 50;
/** A mask of zeros: ws then skips masking, which is most of a client's cost per frame. */
const ZERO_MASK = (mask: Buffer): Buffer => mask.fill(0);

/**
 * Fuzzes a node through many sockets at once, each sending pipelined batches of corpus
 * frames followed by a sentinel (`groups` with a ref). Frames are answered in order, so the
 * answers before the sentinel's are the batch's: every `bad_request` case must have brought
 * exactly one `bad_request` error, and no valid case one. A socket ends with 1008 once its
 * offences pass the abuse limit, with 1009 after an oversized frame, with 1007 after a
 * text frame that is not UTF-8; any other end is a violation.
 */
export async function fuzzSockets(options: FuzzRunOptions): Promise<FuzzTally> {
  const tally: FuzzTally = { framesSent: 0, socketsOpened: 0, closeCodes: {}, errorCodes: {}, violations: [], elapsedMs: 0 };
  const started = Date.now();
  const violation = (message: string): void => {
    if (tally.violations.length < MAX_VIOLATIONS_KEPT) tally.violations.push(message);
  };
  const more = (): boolean => tally.framesSent < options.frames && Date.now() < options.deadline;
  let socketNumber = 0;
  const worker = async (): Promise<void> => {
    while (more()) {
      socketNumber += 1;
      tally.socketsOpened += 1;
      await fuzzOneSocket(options, `fuzz-${socketNumber}`, tally, violation, more);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  tally.elapsedMs = Date.now() - started;
  return tally;
}

/** One socket's life: batches until the node closes it (or the run ends). */
async function fuzzOneSocket(
  options: FuzzRunOptions,
  user: string,
  tally: FuzzTally,
  violation: (message: string) => void,
  more: () => boolean,
): Promise<void> {
  const socket = new WebSocket(`${options.wsUrl}/ws`, {
    headers: { authorization: `Bearer ${await options.tokenFor(user)}` },
    generateMask: ZERO_MASK,
    perMessageDeflate: false,
  });
  let offences = 0;
  /** When each offence's error arrived: the node's window slides, so only recent ones count. */
  const offenceTimes: number[] = [];
  // Errors arrive later than the node counted them, by a delay that varies under load (over a
  // second on a busy machine): counting only the last window minus 3 s, every offence counted
  // here is one the node still counts.
  const offencesInWindow = (): number => {
    const since = Date.now() - (options.abuseWindowMs - 3000);
    return offenceTimes.filter((time) => time >= since).length;
  };
  let badRequests = 0;
  let sentinelRef = '';
  let onSentinel: (() => void) | undefined;
  // Set from the socket's events: an object, so the compiler does not take them for constants.
  const seen: { hello: boolean; closeCode: number | undefined } = { hello: false, closeCode: undefined };
  const closeCodeNow = (): number | undefined => seen.closeCode;
  const closed = new Promise<number>((resolve) => {
    socket.on('close', (code) => {
      seen.closeCode = code;
      onSentinel?.();
      resolve(code);
    });
  });
  socket.on('error', () => undefined);
  socket.on('message', (data: Buffer) => {
    const frame = JSON.parse(data.toString('utf8')) as { type?: string; code?: string; ref?: string; message?: unknown };
    if (frame.type === 'hello') {
      seen.hello = true;
      onSentinel?.();
      return;
    }
    if (frame.type === 'error') {
      const code = String(frame.code);
      tally.errorCodes[code] = (tally.errorCodes[code] ?? 0) + 1;
      if (typeof frame.message !== 'string') violation(`an error frame without a message: ${data.toString('utf8').slice(0, 200)}`);
      if (code === 'bad_request') badRequests += 1;
      if (code === 'bad_request' || code === 'rate_limited') {
        offences += 1;
        offenceTimes.push(Date.now());
      }
    }
    if (frame.ref === sentinelRef && frame.type === 'groups') onSentinel?.();
  });
  const settled = (): Promise<void> =>
    new Promise<void>((resolve) => {
      onSentinel = resolve;
    });

  await Promise.race([settled(), closed]);
  if (!seen.hello) {
    violation(`socket of ${user} closed (${String(seen.closeCode)}) before hello`);
    return;
  }
  let batchNumber = 0;
  // The frame that ends the socket (oversized, not UTF-8), drawn while filling a batch.
  const ending: { fuzz: FuzzCase | undefined } = { fuzz: undefined };
  while (more() && seen.closeCode === undefined) {
    const batch: FuzzCase[] = [];
    while (batch.length < options.batchSize) {
      const candidate = options.corpus[Math.floor(options.random() * options.corpus.length)] as FuzzCase;
      if (candidate.expect === 'close_1009' || candidate.expect === 'close_1007') {
        ending.fuzz = candidate;
        break;
      }
      batch.push(candidate);
    }
    const expectedBad = batch.filter((fuzz) => fuzz.expect === 'bad_request').length;
    const badBefore = badRequests;
    sentinelRef = `sentinel-${++batchNumber}`;
    const answered = settled();
    for (const fuzz of batch) socket.send(fuzz.payload, { binary: fuzz.binary });
    socket.send(`{"type":"groups","ref":"${sentinelRef}"}`);
    tally.framesSent += batch.length + 1;
    await answered;
    // Read through a function: the loop's condition would otherwise narrow it to undefined.
    const closedAs = closeCodeNow();
    if (closedAs !== undefined) {
      if (closedAs !== 1008) violation(`socket of ${user} closed with ${closedAs} during a batch of ${batch.map((fuzz) => fuzz.name).join(', ').slice(0, 400)}`);
      else if (offences <= options.abuseLimit) violation(`socket of ${user} closed with 1008 after only ${offences} offences`);
      break;
    }
    const gotBad = badRequests - badBefore;
    if (gotBad !== expectedBad) {
      violation(
        `batch ${batchNumber} of ${user}: ${expectedBad} bad frames, ${gotBad} bad_request errors; cases: ` +
          batch.map((fuzz) => `${fuzz.name} (${fuzz.expect})`).join('; ').slice(0, 1500),
      );
    }
    const recent = offencesInWindow();
    if (recent > options.abuseLimit) {
      // The node closes right after the offence that passes the limit; the close may trail the sentinel.
      const code = await Promise.race([closed, delay(10_000).then(() => undefined)]);
      if (code !== 1008) violation(`socket of ${user} passed the abuse limit (${recent} offences within the window) and was not closed with 1008 (${String(code)})`);
      break;
    }
    const endingCase = ending.fuzz;
    if (endingCase !== undefined) {
      socket.send(endingCase.payload, { binary: endingCase.binary });
      tally.framesSent += 1;
      const code = await Promise.race([closed, delay(10_000).then(() => undefined)]);
      const wanted = endingCase.expect === 'close_1009' ? 1009 : 1007;
      if (code !== wanted) violation(`"${endingCase.name}" closed the socket with ${String(code)}, not ${wanted}`);
      break;
    }
  }
  if (seen.closeCode === undefined) socket.close(1000);
  const code = await closed;
  tally.closeCodes[String(code)] = (tally.closeCodes[String(code)] ?? 0) + 1;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/** A well-behaved client that asks for its groups every `intervalMs` and records how long each answer took. */
export interface HealthProbe {
  /** Slowest answer so far (ms). */
  slowestMs(): number;
  answered(): number;
  failures(): string[];
  stop(): Promise<void>;
}

/** Starts a healthy client on a node; `failures` lists every request not answered in `timeoutMs`. */
export async function startHealthProbe(wsUrl: string, token: string, intervalMs = 250, timeoutMs = 10_000): Promise<HealthProbe> {
  const client = await ChatClient.connect(wsUrl, token);
  let slowest = 0;
  let answered = 0;
  const failures: string[] = [];
  const state = { running: true };
  const loop = (async () => {
    while (state.running) {
      const asked = Date.now();
      try {
        const reply = await client.request({ type: 'groups' }, timeoutMs);
        if (reply.type !== 'groups') failures.push(`healthy client got ${JSON.stringify(reply).slice(0, 200)}`);
        answered += 1;
        slowest = Math.max(slowest, Date.now() - asked);
      } catch (error) {
        failures.push(`healthy client unanswered: ${String(error)}`);
        if (client.closeCode !== undefined) return;
      }
      await delay(intervalMs);
    }
  })();
  return {
    slowestMs: () => slowest,
    answered: () => answered,
    failures: () => failures,
    async stop() {
      state.running = false;
      await loop;
      client.close();
    },
  };
}

/** A node's heap in use, resident set and CPU time so far, from its admin /metrics (prom-client's default metrics). */
export async function nodeMemory(adminUrl: string): Promise<{ heapUsedBytes: number; rssBytes: number; cpuSeconds: number }> {
  const text = await (await fetch(`${adminUrl}/metrics`)).text();
  const read = (name: string): number => {
    const match = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
    if (match === null) throw new Error(`${name} is not among the node's metrics`);
    return Number(match[1]);
  };
  return { heapUsedBytes: read('nodejs_heap_size_used_bytes'), rssBytes: read('process_resident_memory_bytes'), cpuSeconds: read('process_cpu_seconds_total') };
}
