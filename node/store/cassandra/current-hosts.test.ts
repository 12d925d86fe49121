import { createRequire } from 'node:module';
import type { Client, ExecutionOptions, Host, HostMap } from 'cassandra-driver';
import { describe, expect, it, vi } from 'vitest';
import { currentReplicas, CurrentHostsPolicy } from './current-hosts.js';

describe('currentReplicas', () => {
  const host = (address: string, name: string) => ({ address, name });
  const [a, b, c] = [host('10.0.0.1:9042', 'a'), host('10.0.0.2:9042', 'b'), host('10.0.0.3:9042', 'c')];
  const lookup = (...current: { address: string; name: string }[]) => (address: string) => current.find((each) => each.address === address);

  it('gives the same replicas back when all are current', () => {
    const replicas = [b, a];
    expect(currentReplicas(replicas, lookup(a, b, c))).toBe(replicas);
  });

  it('gives a replaced replica as the host that replaced it, in its place', () => {
    const oldB = host(b.address, 'old b');
    expect(currentReplicas([a, oldB, c], lookup(a, b, c))?.map((each) => each.name)).toEqual(['a', 'b', 'c']);
  });

  it('leaves out a replica whose address the client no longer has', () => {
    expect(currentReplicas([a, b, c], lookup(a, c))?.map((each) => each.name)).toEqual(['a', 'c']);
  });

  it('keeps "no token map yet" as it is', () => {
    expect(currentReplicas(null, lookup(a))).toBeNull();
  });
});

/** A driver host with what the test reads and sets beyond its types: when it went down, and its shutdown. */
type DriverHost = Host & { setDownAt: number; shutdown(waitForPending: boolean): Promise<void> };

/** The driver's own hosts and host map (cassandra-driver 4.10.0; internal, so typed here). */
interface DriverHosts {
  Host: new (address: string, protocolVersion: number, options: object, metadata: object) => DriverHost;
  HostMap: new () => HostMap & { set(address: string, host: Host): void; remove(address: string): void };
}
const require = createRequire(import.meta.url);
const driver = require('cassandra-driver/lib/host.js') as DriverHosts;
const clientOptions = (require('cassandra-driver/lib/client-options.js') as { extend(options: object): object }).extend({
  contactPoints: ['10.0.0.1'],
  localDataCenter: 'dc1',
});

/**
 * The policy on the driver's real hosts, host map and default policy, with a client that
 * answers replicas from a token map fixed by the test (as the driver's keeps the hosts it was
 * built from).
 */
describe('CurrentHostsPolicy', () => {
  // No distance is ever set on these hosts, so none opens a pool or starts a timer.
  const newHost = (address: string): DriverHost => {
    const host = new driver.Host(address, 4, clientOptions, { getAllPrepared: () => [] });
    host.datacenter = 'dc1';
    return host;
  };

  /** Four nodes, a policy on them, and the plan for a key whose token map names `owners`. */
  function cluster() {
    const hosts = new driver.HostMap();
    const [a, b, c, d] = [newHost('10.0.0.1:9042'), newHost('10.0.0.2:9042'), newHost('10.0.0.3:9042'), newHost('10.0.0.4:9042')];
    for (const host of [a, b, c, d]) hosts.set(host.address, host);
    let owners: Host[] = [a, b, c];
    const client = { options: clientOptions, log: () => undefined, getReplicas: () => owners };
    const policy = new CurrentHostsPolicy();
    policy.init(client as unknown as Client, hosts, () => undefined);
    const key = { getRoutingKey: () => Buffer.from('key'), getKeyspace: () => 'chat', getPreferredHost: () => null };
    const plan = (): Host[] => {
      let planned: Host[] = [];
      // The driver calls back with a null error when there is none (its types say an Error).
      policy.newQueryPlan('chat', key as unknown as ExecutionOptions, (error: Error | null, iterator) => {
        if (error !== null) throw error;
        planned = [...{ [Symbol.iterator]: () => iterator }];
      });
      return planned;
    };
    return { hosts, a, b, c, d, plan, ownedBy: (...hostsOwning: Host[]) => (owners = hostsOwning) };
  }

  it('plans the replicas first, then the other local hosts, each once', () => {
    const { a, b, c, d, plan } = cluster();
    for (let i = 0; i < 20; i++) {
      const planned = plan();
      expect(new Set(planned.slice(0, 3))).toEqual(new Set([a, b, c]));
      expect(planned.slice(3)).toEqual([d]);
    }
  });

  it('after a host was replaced (the old one down, still in the token map), plans the new one as the replica, once, and never the old one', () => {
    const { hosts, a, b, c, d, plan, ownedBy } = cluster();
    const shutdown = vi.spyOn(a, 'shutdown');
    a.setDownAt = Date.now();
    const newA = newHost(a.address);
    hosts.set(a.address, newA);
    expect(shutdown).toHaveBeenCalledWith(true);
    for (let i = 0; i < 20; i++) {
      const planned = plan();
      expect(new Set(planned.slice(0, 3))).toEqual(new Set([newA, b, c]));
      expect(planned.slice(3)).toEqual([d]);
    }
    ownedBy(a);
    for (let i = 0; i < 20; i++) expect(plan()[0]).toBe(newA);
  });

  it('closes no pool of a host that left the cluster (the driver closes it)', () => {
    const { hosts, d } = cluster();
    const shutdown = vi.spyOn(d, 'shutdown');
    hosts.remove(d.address);
    expect(shutdown).not.toHaveBeenCalled();
  });
});
