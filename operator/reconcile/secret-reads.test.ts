import { describe, expect, it } from 'vitest';
import { SecretReadings } from './secret-reads.js';

describe('readings of a Secret taken on trust', () => {
  const cluster = { metadata: { namespace: 'team-a', uid: 'uid-1' } };

  it('read once until the trust runs out, sooner again while missing, and at once for another Secret', async () => {
    let clock = 0;
    let stored: string | undefined;
    const reads: string[] = [];
    const readings = new SecretReadings(
      { readSecret: (_namespace: string, name: string) => { reads.push(name); return Promise.resolve(stored); } },
      () => clock,
      (secret) => (typeof secret === 'string' ? secret.length : undefined),
      600_000,
      30_000,
    );
    expect(await readings.of(cluster, 'keys')).toBeUndefined();
    stored = 'abc';
    clock += 29_000;
    expect(await readings.of(cluster, 'keys')).toBeUndefined();
    clock += 2_000;
    expect(await readings.of(cluster, 'keys')).toBe(3);
    stored = 'abcdef';
    clock += 599_000;
    expect(await readings.of(cluster, 'keys')).toBe(3);
    expect(await readings.of(cluster, 'other-keys')).toBe(6);
    expect(reads).toEqual(['keys', 'keys', 'other-keys']);
  });
});
