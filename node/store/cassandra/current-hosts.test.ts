import { describe, expect, it } from 'vitest';
import { currentHostsOnce, type PlannedHost } from './current-hosts.js';

interface TestHost extends PlannedHost {
  readonly name: string;
}

const host = (address: string, name: string, up = true): TestHost => ({ address, name, isUp: () => up });

/** The names of the hosts `currentHostsOnce` plans from `plan`, given the client's current hosts. */
function planned(plan: TestHost[], current: TestHost[]): string[] {
  const byAddress = new Map(current.map((each) => [each.address, each]));
  return [...currentHostsOnce(plan[Symbol.iterator](), (address) => byAddress.get(address))].map((each) => each.name);
}

describe('currentHostsOnce', () => {
  const a = host('10.0.0.1:9042', 'a');
  const b = host('10.0.0.2:9042', 'b');
  const c = host('10.0.0.3:9042', 'c');

  it('keeps a plan of current hosts as it is', () => {
    expect(planned([b, a, c], [a, b, c])).toEqual(['b', 'a', 'c']);
  });

  it('plans a replaced host as the host that replaced it, in its place', () => {
    const oldB = host(b.address, 'old b');
    expect(planned([oldB, c, a], [a, b, c])).toEqual(['b', 'c', 'a']);
  });

  it('plans a node once when the plan holds it twice, as its replaced host and its current one', () => {
    const oldA = host(a.address, 'old a');
    expect(planned([oldA, b, a, c], [a, b, c])).toEqual(['a', 'b', 'c']);
  });

  it('leaves out a host the client no longer has, and one whose current host is down', () => {
    const gone = host('10.0.0.9:9042', 'gone');
    const downB = host(b.address, 'b down', false);
    expect(planned([gone, b, a], [a, downB])).toEqual(['a']);
  });

  it('reads the plan lazily, as the driver does, host by host', () => {
    let read = 0;
    const plan: Iterator<TestHost> = {
      next: () => {
        read += 1;
        return read <= 3 ? { done: false, value: [a, b, c][read - 1] as TestHost } : { done: true, value: undefined };
      },
    };
    const hosts = currentHostsOnce(plan, (address) => [a, b, c].find((each) => each.address === address));
    expect(hosts.next().value).toBe(a);
    expect(read).toBe(1);
  });
});
