import type { NodesCpu } from './decide.js';
import type { NodeLoad } from './node-load.js';

/** A ready node pod and what its `/load` said (undefined: it did not answer). */
export interface PodReport {
  name: string;
  load: NodeLoad | undefined;
  /** The pod's current pod-deletion-cost annotation, if any. */
  cost: string | undefined;
}

export interface ObservedLoad {
  /** Open connections on every node that answered, draining ones too (for status). */
  openConnections: number;
  /** Open connections on the nodes that are staying (for scaling). */
  connections: number;
  /** Mean CPU use of the staying nodes that report it, as a percentage of their request, and how many they are. */
  cpu: NodesCpu | undefined;
  /** Ready pods that did not answer `/load`: their load is unknown, not zero. */
  silent: number;
  /** The pods a scale-down may choose from: not draining already. */
  candidates: PodReport[];
}

/**
 * What the autoscaler counts. A draining node is leaving: its clients are moving to the
 * others (counting them twice would hold replicas that are not needed), its CPU is the
 * drain's, and it is not chosen again for a scale-down.
 */
export function observeLoad(reports: readonly PodReport[]): ObservedLoad {
  const staying = reports.filter((report) => report.load?.draining !== true);
  const cpu = staying.flatMap((report) => (report.load?.cpuUtilization === undefined ? [] : [report.load.cpuUtilization]));
  const sumOf = (some: readonly PodReport[]): number => some.reduce((sum, report) => sum + (report.load?.connections ?? 0), 0);
  return {
    openConnections: sumOf(reports),
    connections: sumOf(staying),
    cpu: cpu.length === 0 ? undefined : { utilization: Math.round(cpu.reduce((sum, value) => sum + value, 0) / cpu.length), nodes: cpu.length },
    silent: reports.filter((report) => report.load === undefined).length,
    candidates: staying,
  };
}
