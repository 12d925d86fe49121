import { describe, expect, it } from 'vitest';
import { cassandraHeapEnv, quantityBytes } from './cassandra-heap.js';

describe('the managed Cassandra heap', () => {
  it('follows Cassandra’s own formula, applied to the container’s memory limit', () => {
    expect(cassandraHeapEnv('2Gi')).toEqual([
      { name: 'MAX_HEAP_SIZE', value: '1024M' },
      { name: 'HEAP_NEWSIZE', value: '256M' },
    ]);
    expect(cassandraHeapEnv('1Gi')).toEqual([
      { name: 'MAX_HEAP_SIZE', value: '512M' },
      { name: 'HEAP_NEWSIZE', value: '128M' },
    ]);
    expect(cassandraHeapEnv('16Gi')[0]).toEqual({ name: 'MAX_HEAP_SIZE', value: '4096M' });
    expect(cassandraHeapEnv('64Gi')[0]).toEqual({ name: 'MAX_HEAP_SIZE', value: '8192M' });
  });

  it('leaves the heap to Cassandra when there is no memory limit', () => {
    expect(cassandraHeapEnv(undefined)).toEqual([]);
  });

  it('reads Kubernetes quantities', () => {
    expect(quantityBytes('2Gi')).toBe(2 * 2 ** 30);
    expect(quantityBytes('1500M')).toBe(1.5e9);
    expect(quantityBytes('1e9')).toBe(1e9);
    expect(quantityBytes(1024)).toBe(1024);
    expect(quantityBytes('lots')).toBeUndefined();
  });
});
