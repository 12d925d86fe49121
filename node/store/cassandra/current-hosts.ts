import { policies, type Client, type EmptyCallback, type ExecutionOptions, type Host, type HostMap, type types } from 'cassandra-driver';

const { DefaultLoadBalancingPolicy, LoadBalancingPolicy } = policies.loadBalancing;

/**
 * `replicas` (from the driver's token map) as the client knows them now (`current`, by
 * address), in their order; a replica whose address the client no longer has is left out.
 * The same array when every replica is current, as it is but after a host was replaced.
 * Null (no token map for the keyspace yet) stays null.
 */
export function currentReplicas<H extends { readonly address: string }>(
  replicas: readonly H[] | null,
  current: (address: string) => H | undefined,
): readonly H[] | null {
  if (replicas === null || replicas.every((replica) => current(replica.address) === replica)) return replicas;
  return replicas.flatMap((replica) => current(replica.address) ?? []);
}

/** The hook through which the default policy reads a key's replicas (cassandra-driver 4.10.0; not in its types). */
interface ReplicasHook {
  getReplicas(keyspace: string, routingKey: Buffer): readonly Host[] | null;
}

/**
 * The driver's default load balancing (token-aware, local data centre), with each key's
 * replicas taken as the client's current hosts, and the pool of a host the client replaced
 * closed.
 *
 * cassandra-driver 4.10.0, once every node was out of reach at once, may reconnect from the
 * contact points and make a new `Host` for the node it lands on; its token map is not rebuilt
 * and keeps the old one, whose pool is never closed. The old pool reconnected once Cassandra
 * was back, and plans then held that node twice (a replica from the token map, and a local
 * host): a write that timed out was tried again on the node that had just not answered,
 * doubling the time to `unavailable`, and each outage left one more pool open. Closing the
 * old pool alone would take the node out of token-aware routing (its old `Host` stays down),
 * hence the replicas by address. Seen with a one-node Cassandra after a restart
 * (test/node/faults.test.ts, test/node/cassandra-client.test.ts).
 */
export class CurrentHostsPolicy extends LoadBalancingPolicy {
  private client: Client | undefined;
  private hosts: HostMap | undefined;
  private readonly inner: policies.loadBalancing.LoadBalancingPolicy;

  constructor() {
    super();
    const hook: ReplicasHook = { getReplicas: (keyspace, routingKey) => this.replicas(keyspace, routingKey) };
    // Its types take a data centre or a filter; the hook is read from the same options.
    this.inner = new DefaultLoadBalancingPolicy(hook as ConstructorParameters<typeof DefaultLoadBalancingPolicy>[0]);
  }

  override init(client: Client, hosts: HostMap, callback: EmptyCallback): void {
    // Called again, with the same hosts, when connecting is retried.
    if (this.hosts !== hosts) hosts.on('remove', (host: Host) => {
      if (isReplaced(host, hosts)) closePool(host);
    });
    this.client = client;
    this.hosts = hosts;
    this.inner.init(client, hosts, callback);
  }

  override getDistance(host: Host): types.distance {
    return this.inner.getDistance(host);
  }

  override newQueryPlan(keyspace: string, executionOptions: ExecutionOptions, callback: (error: Error, iterator: Iterator<Host>) => void): void {
    this.inner.newQueryPlan(keyspace, executionOptions, callback);
  }

  override getOptions(): Map<string, object> {
    return this.inner.getOptions();
  }

  private replicas(keyspace: string, routingKey: Buffer): readonly Host[] | null {
    const { client, hosts } = this;
    if (client === undefined || hosts === undefined) return null;
    // Null while the keyspace's metadata is not loaded (the driver's types say an array).
    const replicas = client.getReplicas(keyspace, routingKey) as Host[] | null;
    return currentReplicas(replicas, (address) => hosts.get(address) as Host | undefined);
  }
}

/** Whether `host`, just removed from `hosts`, was replaced there by another host for its address (not a node that left). */
export function isReplaced(host: Host, hosts: HostMap): boolean {
  // Undefined when the node left the cluster (the driver's types say a host is always found).
  const successor = hosts.get(host.address) as Host | undefined;
  return successor !== undefined && successor !== host;
}

/**
 * Closes a replaced host's connections once their requests are answered. `Host#shutdown`
 * is the driver's own (what it calls for a host that leaves the cluster), left out of its types.
 */
function closePool(host: Host): void {
  const closable: Host & { shutdown?: (waitForPending: boolean) => Promise<void> } = host;
  closable.shutdown?.(true).catch(() => undefined);
}
