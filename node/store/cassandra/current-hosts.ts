import { policies, type Client, type EmptyCallback, type ExecutionOptions, type Host, type HostMap, type types } from 'cassandra-driver';

/** What a query plan needs of a host: where it is and whether the driver sees it up. */
export interface PlannedHost {
  readonly address: string;
  isUp(): boolean;
}

/**
 * The hosts of `plan` in its order, each as the client knows it now (`current` by address),
 * each address once, and none the client no longer has or sees down.
 */
export function* currentHostsOnce<H extends PlannedHost>(plan: Iterator<H>, current: (address: string) => H | undefined): Generator<H, void> {
  const yielded = new Set<string>();
  for (let next = plan.next(); next.done !== true; next = plan.next()) {
    const host = current(next.value.address);
    if (host === undefined || !host.isUp() || yielded.has(host.address)) continue;
    yielded.add(host.address);
    yield host;
  }
}

/**
 * The driver's default load balancing (token-aware, local data centre), with every query
 * plan made of the client's current hosts, and the pool of a host the client replaced closed.
 *
 * cassandra-driver 4.10.0, once every node was down at once, reconnects from the contact
 * points and makes a new `Host` for the node it lands on; its token map is not rebuilt and
 * keeps the old one, whose pool is never closed. The old pool reconnects once Cassandra is
 * back, and plans then hold that node twice (as a replica from the token map, and as a local
 * host): a request that timed out was retried on the node that had just not answered, doubling
 * the time to `unavailable`, and each outage left one more pool open. Seen with a one-node
 * Cassandra after a restart (test/node/faults.test.ts).
 */
export class CurrentHostsPolicy extends policies.loadBalancing.LoadBalancingPolicy {
  private hosts: HostMap | undefined;

  constructor(private readonly inner: policies.loadBalancing.LoadBalancingPolicy = new policies.loadBalancing.DefaultLoadBalancingPolicy()) {
    super();
  }

  override init(client: Client, hosts: HostMap, callback: EmptyCallback): void {
    this.hosts = hosts;
    hosts.on('remove', (host: Host) => {
      // Undefined when the node left the cluster (the driver's types say a host is always found).
      const successor = hosts.get(host.address) as Host | undefined;
      if (successor !== undefined && successor !== host) closePool(host);
    });
    this.inner.init(client, hosts, callback);
  }

  override getDistance(host: Host): types.distance {
    return this.inner.getDistance(host);
  }

  override newQueryPlan(keyspace: string, executionOptions: ExecutionOptions, callback: (error: Error, iterator: Iterator<Host>) => void): void {
    // The driver calls back with a null error when there is none (its types say an Error).
    this.inner.newQueryPlan(keyspace, executionOptions, (error: Error | null, plan) => {
      const { hosts } = this;
      callback(error as Error, error !== null || hosts === undefined ? plan : currentHostsOnce(plan, (address) => hosts.get(address)));
    });
  }

  override getOptions(): Map<string, object> {
    return this.inner.getOptions();
  }
}

/**
 * Closes a replaced host's connections once their requests are answered. `Host#shutdown`
 * is the driver's own (what it calls for a host that leaves the cluster), left out of its types.
 */
function closePool(host: Host): void {
  const closable: Host & { shutdown?: (waitForPending: boolean) => Promise<void> } = host;
  closable.shutdown?.(true).catch(() => undefined);
}
