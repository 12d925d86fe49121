import type { V1Pod } from '@kubernetes/client-node';
import { z } from 'zod';
import { ADMIN_PORT } from '../desired/meta.js';

const Load = z.object({
  node: z.string(),
  connections: z.number().int().min(0),
  draining: z.boolean(),
  /** Percent of the container's CPU request over the last 30 s; absent without a request. */
  cpuUtilization: z.number().min(0).optional(),
});

/** What a node pod reports on its admin port's `/load`. */
export type NodeLoad = Omit<z.infer<typeof Load>, 'node'>;

/** Reads a node pod's `/load` on its admin port; undefined when it cannot (not answering, not a node). */
export async function readNodeLoad(pod: V1Pod): Promise<NodeLoad | undefined> {
  const ip = pod.status?.podIP;
  if (ip === undefined) return undefined;
  try {
    const response = await fetch(`http://${ip}:${ADMIN_PORT}/load`, { signal: AbortSignal.timeout(2000) });
    if (!response.ok) return undefined;
    const load = Load.safeParse(await response.json());
    return load.success ? { connections: load.data.connections, draining: load.data.draining, cpuUtilization: load.data.cpuUtilization } : undefined;
  } catch {
    return undefined;
  }
}
