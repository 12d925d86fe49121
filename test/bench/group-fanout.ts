import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { closeAll, openMany, type Frame, type LoadSocket } from './bench-socket.js';
import { progress } from './lifecycle.js';
import { waitWhile } from './pacer.js';
import { cpuMsEach, histogramCount, histogramQuantileMs, meteredCpu, metric, readMetrics, roundCores, type CpuSpan } from './process-figures.js';
import { commandsBetween, type CommandCounts, type RedisCommandCounter } from './redis-commands.js';
import { RefRequests } from './ref-requests.js';
import { percentiles, round, roundEach, type Percentiles } from './statistics.js';
import type { LoadTarget } from './targets.js';

export interface GroupFanoutOptions {
  /** Members in all, spread evenly over the target's nodes (the sender among them). */
  members: number;
  messages: number;
  messagesPerSecond: number;
  /** Sockets opening (and joins in flight) at once, so a large group is set up at a bounded rate. */
  concurrency: number;
  /** The chat nodes' /metrics URLs: their own count of the inbox entries they published (none for a peer). */
  metricsUrls?: readonly string[];
  /** Process ids by group (server, redis, cassandra, generator): what a message costs each in CPU, over the idle intervals' mean. */
  cpu?: Record<string, readonly number[]>;
}

export interface GroupFanoutResult {
  group: string;
  members: number;
  /** Nodes the members' sockets are on. */
  nodesWithMembers: number;
  /** Nodes in the group's Redis group-nodes set (what routing fans out to); null for a peer, which keeps no such set. */
  groupNodesInRedis: number | null;
  messages: number;
  acked: number;
  deliveriesExpected: number;
  deliveries: number;
  duplicates: number;
  deliveryLatencyMs: Percentiles;
  /**
   * The deliveries as the nodes timed them (`chat_delivery_latency_seconds`): a node times a
   * message once, when it has handed the frame to all its local members' sockets, and counts
   * that for each of them. Estimated within the histogram's buckets (…, 100, 250, 500 ms,
   * 1 s, …), so a figure can pass the generator's. Null without metrics URLs.
   */
  nodeDeliveryLatencyMs: { count: number; p50: number | null; p99: number | null } | null;
  /** Per group message, send → the last member's frame; over the messages every member got. */
  allMembersLatencyMs: Percentiles;
  /** How long opening and joining the members took. */
  setupMs: { open: number; join: number };
  errors: Record<string, number>;
  /** Length of both the measured and the idle interval. */
  intervalMs: number;
  /**
   * CPU (ms) per group message by group of processes, with `machine` (all of it): the
   * messages' interval less the mean of the idle intervals before and after, per message.
   * Null when no processes were given.
   */
  cpuMsPerMessage: Record<string, number> | null;
  /** The spans cpuMsPerMessage comes from, as measured (a negative figure means the background drifted by more than the messages cost). */
  cpuSpans: { idleBefore: CpuSpan; messages: CpuSpan; idleAfter: CpuSpan } | null;
  redis: {
    measured: CommandCounts;
    /** The mean of the idle intervals before and after the messages (the background drifts: a large group's setup still settles before). */
    idle: CommandCounts;
    idleBefore: CommandCounts;
    idleAfter: CommandCounts;
    /** (measured - idle) / messages: what one group message costs Redis. */
    commandsPerMessage: number;
    /**
     * Message entries the nodes appended to other nodes' inboxes per group message, by their
     * own count (chat_bus_published_total): the routing XADDs alone, apart from the watermark
     * markers the XADD row also counts. Null without metrics URLs.
     */
    inboxEntriesPerMessage: number | null;
    commandsPerMessageByCommand: Record<string, number>;
  };
}

/**
 * Scenario 3: a group with members on every node (or server of a peer); counts Redis commands over an interval
 * in which `messages` group messages are sent, minus the mean of idle intervals of the same
 * length before and after.
 */
export async function measureGroupFanout(
  target: LoadTarget,
  redis: RedisCommandCounter,
  groupNodesKey: ((group: string) => string) | null,
  options: GroupFanoutOptions,
): Promise<GroupFanoutResult> {
  progress(`group: opening ${options.members} member sockets over ${target.nodeCount} nodes, ${options.concurrency} at a time`);
  const opened = await openMany(options.members, options.concurrency, (index) => target.open(`grp-m${index}`, index));
  const members = opened.sockets;
  try {
    if (opened.failures.length > 0) throw new Error(`could not open the group's sockets: ${opened.failures[0] ?? ''}`);
    const [sender, ...others] = members;
    if (sender === undefined) throw new Error('no group member opened');
    const group = `bench-${randomBytes(3).toString('hex')}`;
    await request(sender, { type: 'group.create', name: group }, 'group');
    const joinStarted = performance.now();
    for (let index = 0; index < others.length; index += options.concurrency) {
      await Promise.all(others.slice(index, index + options.concurrency).map((member) => request(member, { type: 'group.join', group }, 'ok')));
    }
    const joinMs = performance.now() - joinStarted;
    const groupNodes = groupNodesKey === null ? null : await redis.members(groupNodesKey(group));
    progress(`group ${group}: ${members.length} members on ${target.nodeCount} ${target.name} servers${groupNodes === null ? '' : `; Redis lists ${groupNodes.length} nodes for it`}`);
    await sleep(1_000);

    const intervalMs = Math.ceil((options.messages / options.messagesPerSecond) * 1000) + 3_000;
    progress(`group: idle interval of ${intervalMs} ms (Redis baseline)`);
    const idleBefore = await redis.read();
    const { cpu: cpuIdleFirst } = await metered(options.cpu, () => sleep(intervalMs));
    const idleFirst = commandsBetween(idleBefore, await redis.read());

    progress(`group: ${options.messages} group messages at ${options.messagesPerSecond}/s in an interval of ${intervalMs} ms`);
    const nodesBefore = await scrapeNodes(options.metricsUrls);
    const { result: sent, cpu: cpuSent } = await metered(options.cpu, () => sendGroupMessages(sender, others, group, options, intervalMs, redis));
    const nodesAfter = await scrapeNodes(options.metricsUrls);
    const nodes = nodesBefore === null || nodesAfter === null ? null : nodeFigures(nodesBefore, nodesAfter, options.messages);
    progress(`group: idle interval of ${intervalMs} ms after the messages (Redis baseline)`);
    const idleAfterStart = await redis.read();
    const { cpu: cpuIdleSecond } = await metered(options.cpu, () => sleep(intervalMs));
    const idleSecond = commandsBetween(idleAfterStart, await redis.read());
    const idle = meanCounts(idleFirst, idleSecond);
    const cpuSpans = cpuSent === null || cpuIdleFirst === null || cpuIdleSecond === null ? null : { idleBefore: cpuIdleFirst, messages: cpuSent, idleAfter: cpuIdleSecond };
    const net = commandsBetween(idle, sent.commands);
    return {
      group,
      members: members.length,
      nodesWithMembers: Math.min(target.nodeCount, members.length),
      groupNodesInRedis: groupNodes?.length ?? null,
      messages: options.messages,
      acked: sent.acked,
      deliveriesExpected: options.messages * others.length,
      deliveries: sent.deliveries,
      duplicates: sent.duplicates,
      deliveryLatencyMs: sent.latency,
      nodeDeliveryLatencyMs: nodes?.deliveryLatencyMs ?? null,
      allMembersLatencyMs: sent.allMembersLatency,
      setupMs: { open: Math.round(opened.elapsedMs), join: Math.round(joinMs) },
      errors: sent.errors,
      intervalMs,
      cpuMsPerMessage: cpuSpans === null ? null : cpuPerMessage(cpuSpans.messages, [cpuSpans.idleBefore, cpuSpans.idleAfter], options.messages),
      cpuSpans: cpuSpans === null ? null : { idleBefore: roundSpan(cpuSpans.idleBefore), messages: roundSpan(cpuSpans.messages), idleAfter: roundSpan(cpuSpans.idleAfter) },
      redis: {
        measured: sent.commands,
        idle,
        idleBefore: idleFirst,
        idleAfter: idleSecond,
        commandsPerMessage: round(net.total / options.messages, 2),
        inboxEntriesPerMessage: nodes?.inboxEntriesPerMessage ?? null,
        commandsPerMessageByCommand: Object.fromEntries(
          Object.entries(net.byCommand)
            .map(([name, calls]) => [name, round(calls / options.messages, 3)] as const)
            .filter(([, perMessage]) => perMessage !== 0)
            .sort(([, a], [, b]) => b - a),
        ),
      },
    };
  } finally {
    progress(`group: closing ${members.length} member sockets`);
    await closeAll(members);
  }
}

function roundSpan(span: CpuSpan): CpuSpan {
  return { cores: roundCores(span.cores), seconds: round(span.seconds, 2) };
}

/** What `work` resolved to, and the cores each group used meanwhile (null without groups). */
async function metered<T>(groups: Record<string, readonly number[]> | undefined, work: () => Promise<T>): Promise<{ result: T; cpu: CpuSpan | null }> {
  if (groups === undefined) return { result: await work(), cpu: null };
  const { result, cores, seconds } = await meteredCpu(groups, work);
  return { result, cpu: { cores, seconds } };
}

/**
 * CPU ms per message by group: the cores of the messages' span less the idle spans' mean
 * (the background of thousands of idle sockets is not the messages'), over that span.
 */
export function cpuPerMessage(sent: CpuSpan, idle: readonly CpuSpan[], messages: number): Record<string, number> | null {
  const atRest = Object.fromEntries(Object.keys(sent.cores).map((name) => [name, idle.reduce((sum, span) => sum + (span.cores[name] ?? 0), 0) / Math.max(1, idle.length)]));
  const perMessage = cpuMsEach(sent, messages, atRest);
  return perMessage === null ? null : roundEach(perMessage, 2);
}

/** Every node's metrics now; null without metrics URLs. */
async function scrapeNodes(metricsUrls: readonly string[] | undefined): Promise<Map<string, number>[] | null> {
  if (metricsUrls === undefined || metricsUrls.length === 0) return null;
  return Promise.all(metricsUrls.map(readMetrics));
}

/** What the nodes' own metrics say of the group messages sent between two scrapes of them all. */
function nodeFigures(
  before: readonly Map<string, number>[],
  after: readonly Map<string, number>[],
  messages: number,
): { inboxEntriesPerMessage: number; deliveryLatencyMs: NonNullable<GroupFanoutResult['nodeDeliveryLatencyMs']> } {
  // Every node's chat_bus_published_total, after less before: entries appended to other nodes' inboxes.
  const published = (scrapes: readonly Map<string, number>[]): number => scrapes.reduce((total, samples) => total + metric(samples, 'chat_bus_published_total'), 0);
  const latency = 'chat_delivery_latency_seconds';
  return {
    inboxEntriesPerMessage: round((published(after) - published(before)) / messages, 2),
    deliveryLatencyMs: {
      count: histogramCount(before, after, latency),
      p50: histogramQuantileMs(before, after, latency, 0.5),
      p99: histogramQuantileMs(before, after, latency, 0.99),
    },
  };
}

/** Per command, the mean of two intervals' counts. */
function meanCounts(first: CommandCounts, second: CommandCounts): CommandCounts {
  const byCommand: Record<string, number> = {};
  for (const name of new Set([...Object.keys(first.byCommand), ...Object.keys(second.byCommand)])) {
    byCommand[name] = ((first.byCommand[name] ?? 0) + (second.byCommand[name] ?? 0)) / 2;
  }
  return { total: (first.total + second.total) / 2, byCommand };
}

/** Sends the group messages paced over the interval and counts what Redis did meanwhile. */
async function sendGroupMessages(
  sender: LoadSocket,
  others: readonly LoadSocket[],
  group: string,
  options: GroupFanoutOptions,
  intervalMs: number,
  redis: RedisCommandCounter,
): Promise<{ acked: number; deliveries: number; duplicates: number; latency: Percentiles; allMembersLatency: Percentiles; errors: Record<string, number>; commands: CommandCounts }> {
  const sentAt = new Float64Array(options.messages);
  const seen = others.map(() => new Uint8Array(options.messages));
  const latencies: number[] = [];
  const reached = new Uint32Array(options.messages);
  const allMembersLatencies: number[] = [];
  const errors: Record<string, number> = {};
  let acked = 0;
  let deliveries = 0;
  let duplicates = 0;
  sender.onFrame = (frame) => {
    if (frame.type === 'ack' && typeof frame.ref === 'string' && frame.ref.startsWith('g-')) acked += 1;
    if (frame.type === 'error') errors[String(frame.code)] = (errors[String(frame.code)] ?? 0) + 1;
  };
  others.forEach((member, index) => {
    member.onFrame = (frame, at) => {
      if (frame.type !== 'message' || typeof frame.text !== 'string' || !frame.text.startsWith('g-')) return;
      const seq = Number.parseInt(frame.text.slice(2), 10);
      const marks = seen[index];
      if (marks === undefined || !(seq >= 0 && seq < options.messages)) return;
      if (marks[seq] === 1) {
        duplicates += 1;
        return;
      }
      marks[seq] = 1;
      deliveries += 1;
      const latency = at - (sentAt[seq] ?? at);
      latencies.push(latency);
      reached[seq] = (reached[seq] ?? 0) + 1;
      // Frames arrive in time order on one clock, so the frame that completes the count is the last one.
      if (reached[seq] === others.length) allMembersLatencies.push(latency);
    };
  });

  const before = await redis.read();
  const startedAt = performance.now();
  const gapMs = 1000 / options.messagesPerSecond;
  for (let seq = 0; seq < options.messages; seq++) {
    const dueAt = startedAt + seq * gapMs;
    const wait = dueAt - performance.now();
    if (wait > 0) await sleep(wait);
    sentAt[seq] = performance.now();
    sender.send({ type: 'send', ref: `g-${seq}`, to: { group }, text: `g-${seq} a message to everyone in the group` });
  }
  const expected = options.messages * others.length;
  await waitWhile(() => deliveries < expected, startedAt + intervalMs - performance.now());
  const rest = intervalMs - (performance.now() - startedAt);
  if (rest > 0) await sleep(rest);
  const commands = commandsBetween(before, await redis.read());
  return { acked, deliveries, duplicates, latency: percentiles(latencies), allMembersLatency: percentiles(allMembersLatencies), errors, commands };
}

/** Sends a frame with a ref and resolves with the reply of type `expected`; rejects on error or timeout. */
function request(socket: LoadSocket, frame: Record<string, unknown>, expected: string, timeoutMs = 10_000): Promise<Frame> {
  const requests = new RefRequests();
  socket.onFrame = (reply) => {
    requests.answer(reply);
  };
  return requests.request(socket, frame, timeoutMs, expected);
}
