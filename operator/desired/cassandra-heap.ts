import type { Resources } from '../../common/chatcluster.js';

/**
 * What a managed Cassandra container gets when `cassandra.managed.resources` is not given:
 * a bounded memory (and so a 1 GiB heap, below) and a CPU request that three replicas and
 * two chat nodes fit beside on a small laptop cluster. Unbounded, each JVM sized its heap
 * from the host's memory, a quarter of it: three replicas on one 24 GiB kind node took 20
 * GiB, as BestEffort pods, the first a node evicts. Production sets its own; `resources: {}`
 * asks for none.
 */
export const DEFAULT_CASSANDRA_RESOURCES: Resources = { requests: { cpu: '250m', memory: '2Gi' }, limits: { memory: '2Gi' } };

/**
 * The JVM heap of a managed Cassandra container. Cassandra's own start script sizes the heap
 * from the host's memory (/proc/meminfo), not the container's limit: on a large node a
 * container with a small limit starts a heap bigger than its limit and is OOM-killed. So the
 * operator applies the script's formula to the memory limit and passes the result.
 */
export function cassandraHeapEnv(memoryLimit: string | number | undefined): { name: string; value: string }[] {
  const limitBytes = memoryLimit === undefined ? undefined : quantityBytes(memoryLimit);
  if (limitBytes === undefined) return [];
  const mib = Math.floor(limitBytes / 2 ** 20);
  // cassandra-env.sh: max(min(1/2 ram, 1024 MB), min(1/4 ram, 8192 MB)); the young generation a quarter of it.
  const heap = Math.max(Math.min(Math.floor(mib / 2), 1024), Math.min(Math.floor(mib / 4), 8192));
  return [
    { name: 'MAX_HEAP_SIZE', value: `${heap}M` },
    { name: 'HEAP_NEWSIZE', value: `${Math.max(1, Math.floor(heap / 4))}M` },
  ];
}

const SUFFIX_BYTES: Record<string, number> = {
  '': 1,
  k: 1e3,
  K: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
  m: 1e-3,
};

/** Bytes of a Kubernetes memory quantity ("2Gi", "1500M", 2147483648), or undefined when it is not one. */
export function quantityBytes(quantity: string | number): number | undefined {
  if (typeof quantity === 'number') return quantity;
  const match = /^(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?([KMGTPE]i|[kmKMGTPE])?$/.exec(quantity.trim());
  if (match === null) return undefined;
  const [, digits = '0', exponent = '', suffix = ''] = match;
  const factor = SUFFIX_BYTES[suffix];
  return factor === undefined ? undefined : Number(`${digits}${exponent}`) * factor;
}
