import type { V1Pod } from '@kubernetes/client-node';
import { z } from 'zod';
import { ADMIN_PORT } from './desired/meta.js';

const Load = z.object({ node: z.string(), connections: z.number().int().min(0), draining: z.boolean() });

/** Reads a node pod's `/load` on its admin port; undefined when it cannot (not answering, not a node). */
export async function readNodeLoad(pod: V1Pod): Promise<number | undefined> {
  const ip = pod.status?.podIP;
  if (ip === undefined) return undefined;
  try {
    const response = await fetch(`http://${ip}:${ADMIN_PORT}/load`, { signal: AbortSignal.timeout(2000) });
    if (!response.ok) return undefined;
    const load = Load.safeParse(await response.json());
    return load.success ? load.data.connections : undefined;
  } catch {
    return undefined;
  }
}
