import type { V1Pod } from '@kubernetes/client-node';
import { CPU_UTILIZATION_WINDOW_MS } from '../../common/cpu-window.js';
import type { NodesCpu } from './decide.js';
import type { NodeLoad } from './node-load.js';

/** A ready node pod and what its `/load` said (undefined: it did not answer). */
export interface PodReport {
  name: string;
  load: NodeLoad | undefined;
  /** The pod's current pod-deletion-cost annotation, if any. */
  cost: string | undefined;
  /** The pod is being deleted (it has a deletionTimestamp), draining or not yet. */
  deleting?: boolean;
  /**
   * Ready for less than the CPU window: its CPU reading is mostly its start, so it counts as
   * not reporting CPU (as an HPA leaves out a starting pod's), its connections still count.
   */
  warming?: boolean;
}

export interface ObservedLoad {
  /** Open connections on every node that answered, draining ones too (for status). */
  openConnections: number;
  /** Open connections on the nodes that are staying (for scaling). */
  connections: number;
  /** Mean CPU use of the staying nodes that report it, as a percentage of their request, and how many they are. */
  cpu: NodesCpu | undefined;
  /** Staying pods that did not answer `/load`: their load is unknown, not zero. */
  silent: number;
  /** The pods a scale-down may choose from: the staying ones. */
  candidates: PodReport[];
}

/**
 * What the autoscaler counts. A draining node is leaving: its clients are moving to the
 * others (counting them twice would hold replicas that are not needed), its CPU is the
 * drain's, and it is not chosen again for a scale-down. So is a pod being deleted that has
 * not begun to drain: it waits out its preStop pause still ready and answering `/load`, and
 * counted as staying, its CPU summed with the others' would call the replica the scale-down
 * just removed straight back.
 */
export function observeLoad(reports: readonly PodReport[]): ObservedLoad {
  const staying = reports.filter((report) => report.deleting !== true && report.load?.draining !== true);
  const cpu = staying.flatMap((report) => (report.warming === true || report.load?.cpuUtilization === undefined ? [] : [report.load.cpuUtilization]));
  const sumOf = (some: readonly PodReport[]): number => some.reduce((sum, report) => sum + (report.load?.connections ?? 0), 0);
  return {
    openConnections: sumOf(reports),
    connections: sumOf(staying),
    cpu: cpu.length === 0 ? undefined : { utilization: Math.round(cpu.reduce((sum, value) => sum + value, 0) / cpu.length), nodes: cpu.length },
    silent: staying.filter((report) => report.load === undefined).length,
    candidates: staying,
  };
}

/**
 * What the autoscaler reads of a node pod before its `/load`: undefined when it is not ready
 * (not read at all), else whether it is being deleted and whether it has been ready for less
 * than the CPU window. The Ready condition's time may come as a Date (a list) or a string (a
 * watch event); a missing one counts as long ago.
 */
export function podStanding(pod: V1Pod, now: number): Pick<PodReport, 'deleting' | 'warming'> | undefined {
  const ready = pod.status?.conditions?.find((condition) => condition.type === 'Ready' && condition.status === 'True');
  if (ready === undefined) return undefined;
  const readySince = new Date(ready.lastTransitionTime ?? 0).getTime();
  return {
    deleting: pod.metadata?.deletionTimestamp !== undefined,
    warming: Number.isFinite(readySince) && now - readySince < CPU_UTILIZATION_WINDOW_MS,
  };
}
