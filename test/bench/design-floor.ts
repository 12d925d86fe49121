import type { DirectLoadResult, DirectStep } from './direct-load.js';
import type { CassandraWriteLimits } from './limits/cassandra-writes.js';
import type { RedisStreamLimits } from './limits/redis-streams.js';
import { cpuMsEach } from './process-figures.js';
import { coresPer1000 } from './report.js';
import { ratio, round } from './statistics.js';

/** Issue 16's aim for the direct path's cost: server cores per 1,000 msg/s, at 2,000 msg/s. */
export const DIRECT_AIMS = { ratePerSecond: 2_000, coresPer1000: 0.25 } as const;

/**
 * The rate to take the floor at: the aims' rate where chat, the relay and Cassandra alone
 * all ran it, else the highest rate all three ran (a short run's steps); undefined: none.
 */
export function floorRate(chat: DirectLoadResult, relay: DirectLoadResult, cassandra: CassandraWriteLimits): number | undefined {
  const chatRates = new Set(chat.steps.map((step) => step.offeredPerSecond));
  const relayRates = new Set(relay.steps.map((step) => step.offeredPerSecond));
  const common = cassandra.paced.map((step) => step.offeredPerSecond).filter((rate) => chatRates.has(rate) && relayRates.has(rate));
  return common.includes(DIRECT_AIMS.ratePerSecond) ? DIRECT_AIMS.ratePerSecond : common.sort((a, b) => b - a)[0];
}

/** Each part a cross-node direct message cannot do without, in cores per 1,000 msg/s, measured alone. */
export interface FloorParts {
  /** Cassandra storing the message, the store's path at this rate with no node in the way. */
  cassandra: number;
  /** The store's client: the same CassandraStore.appendMessage calls, in the process that issued them (its pacer's ticks included, about 0.01). */
  storeClient: number;
  /** Redis taking one XADD and its share of a blocking XREAD (both at full speed, the cheapest a command gets). */
  redis: number;
  /** The bus's client: ioredis issuing that XADD and reading the XREAD's reply. */
  busClient: number;
  /** The WebSocket side: the in-process relay reading the send and writing the ack and the message frame. */
  webSockets: number;
}

/**
 * What the direct path's design costs at least on this machine, summed from parts measured
 * alone in the same run, beside what the chat cost at that rate: the limit beside the aim
 * for cores per message. A lower bound, for the store's requests as they are: the bus's
 * parts run at full speed, where commands share writes, and none of the work that joins
 * the parts (validation, routing, the in-flight record, metrics) is counted.
 */
export interface DesignFloor {
  offeredPerSecond: number;
  parts: FloorParts;
  /**
   * The parts summed: server cores per 1,000 msg/s that no implementation making these
   * requests goes under at this rate while it leaves the machine no busier than the parts
   * alone did (a busier machine shares wake-ups, and a part then costs less a message).
   */
  serverCoresPer1000: number;
  /** The chat's measured server cores per 1,000 msg/s at this rate (nodes, Redis and Cassandra). */
  chatServerCoresPer1000: number;
  /** The clients' cores per 1,000 msg/s under the same load (the cheaper of chat's and the relay's steps). */
  clientCoresPer1000: number;
  machineCores: number;
  /** The share of the machine's cores the floor's parts and the clients need at this rate. */
  machineShare: number;
}

/** Why a run has no floor: the parts it did not measure. */
export interface NoFloor {
  missing: string[];
}

export interface FloorInputs {
  offeredPerSecond: number;
  chat: DirectLoadResult;
  relay: DirectLoadResult;
  cassandra: CassandraWriteLimits;
  redis: RedisStreamLimits;
  machineCores: number;
}

/**
 * The design's floor at `offeredPerSecond`, or why it cannot be had from this run: a part
 * missing at that rate, or a step that delivered nothing.
 */
export function designFloor(inputs: FloorInputs): DesignFloor | NoFloor {
  const { offeredPerSecond: rate, chat, relay, cassandra, redis, machineCores } = inputs;
  const chatStep = stepAt(chat, rate);
  const relayStep = stepAt(relay, rate);
  const stored = cassandra.paced.find((step) => step.offeredPerSecond === rate && step.completed > 0);
  const chatCores = chatStep === undefined ? null : coresPer1000(chatStep);
  const webSockets = relayStep === undefined ? null : coresPer1000(relayStep);
  const cassandraCores = stored?.cassandraCoresPer1000 ?? null;
  if (chatStep === undefined || relayStep === undefined || stored === undefined || chatCores === null || webSockets === null || cassandraCores === null || redis.through.xaddPerSecond === 0) {
    return {
      missing: [
        ...(chatCores === null ? [`chat delivering at ${rate} msg/s`] : []),
        ...(webSockets === null ? [`the relay delivering at ${rate} msg/s`] : []),
        ...(cassandraCores === null ? [`Cassandra storing at ${rate} msg/s`] : []),
        ...(redis.through.xaddPerSecond === 0 ? ['Redis streams written and read'] : []),
      ],
    };
  }
  // CPU ms a message is the same figure as cores per 1,000 messages a second.
  const storeMs = cpuMsEach({ cores: stored.cpuCores, seconds: stored.seconds }, stored.completed);
  const busMs = cpuMsEach({ cores: redis.through.cpuCores, seconds: 1 }, redis.through.xaddPerSecond);
  const parts: FloorParts = {
    cassandra: cassandraCores,
    storeClient: round(storeMs?.generator ?? 0, 3),
    redis: round(busMs?.redis ?? 0, 3),
    busClient: round(busMs?.generator ?? 0, 3),
    webSockets,
  };
  const serverCoresPer1000 = round(parts.cassandra + parts.storeClient + parts.redis + parts.busClient + parts.webSockets, 3);
  const clientCoresPer1000 = round(Math.min(clientCores(chatStep), clientCores(relayStep)), 3);
  return {
    offeredPerSecond: rate,
    parts,
    serverCoresPer1000,
    chatServerCoresPer1000: chatCores,
    clientCoresPer1000,
    machineCores,
    machineShare: round(((serverCoresPer1000 + clientCoresPer1000) * rate) / 1000 / machineCores, 2),
  };
}

function aimVerdict(floor: DesignFloor): string {
  if (floor.offeredPerSecond !== DIRECT_AIMS.ratePerSecond) return 'a rate this run did not take the floor at';
  return floor.serverCoresPer1000 > DIRECT_AIMS.coresPer1000 ? 'under the floor: beyond this machine for this design' : 'which the floor leaves room for';
}

function stepAt(result: DirectLoadResult, rate: number): DirectStep | undefined {
  return result.steps.find((step) => step.offeredPerSecond === rate && step.deliveredPerSecond > 0);
}

/** The load generator's cores per 1,000 delivered msg/s: the clients' side of the same messages. */
function clientCores(step: DirectStep): number {
  return cpuMsEach({ cores: step.cpuCores, seconds: 1 }, step.deliveredPerSecond)?.generator ?? 0;
}

/** The floor beside the chat's figure and the aims it bounds, or which parts were not measured. */
export function formatDesignFloor(floor: DesignFloor | NoFloor): string {
  if ('missing' in floor) return `The direct path's floor could not be had from this run; not measured: ${floor.missing.join(', ')}.`;
  const { parts, offeredPerSecond: rate } = floor;
  return [
    `The direct path's floor at ${rate} msg/s: each part a cross-node direct message needs, measured alone in this run (cores per 1000 msg/s)`,
    `  Cassandra storing it ${parts.cassandra} + the store's client ${parts.storeClient} + Redis's XADD and XREAD ${parts.redis} + their client ${parts.busClient} ` +
      `+ the WebSocket side (the relay) ${parts.webSockets} = ${floor.serverCoresPer1000} server cores per 1000 msg/s`,
    `  chat: ${floor.chatServerCoresPer1000} (${ratio(floor.chatServerCoresPer1000, floor.serverCoresPer1000) ?? '-'}x the floor); ` +
      `aim: ≤ ${DIRECT_AIMS.coresPer1000} at ${DIRECT_AIMS.ratePerSecond} msg/s, ${aimVerdict(floor)}`,
    `  with the clients' ${floor.clientCoresPer1000}, these parts alone keep ${round(floor.machineShare * 100, 0)} % of the machine's ${floor.machineCores} cores busy at ${rate} msg/s`,
    '  A lower bound at this rate, for the store\'s requests as they are and a machine no busier than the parts alone kept it (each',
    '  paid its own wake-ups; in a busier machine a part costs less a message): the bus\'s parts were measured at full speed, where',
    '  commands share writes, and nothing that joins the parts (validation, routing, the in-flight record, metrics) is counted. Not a',
    '  bound on saturation: at full speed each part costs less a message (see the limits above).',
  ].join('\n');
}
