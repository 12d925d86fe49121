import { describe, expect, it } from 'vitest';
import { controllerKey, generationChanged } from './event-filters.js';

const object = (generation: number, extra: object = {}) => ({ metadata: { namespace: 'ns', name: 'demo', generation, ...extra } });

describe('the operator event filters', () => {
  it('pass a ChatCluster event only for a new generation, a deletion or a first sight', () => {
    const changed = generationChanged();
    expect(changed('ADDED', object(1))).toBe(true);
    expect(changed('MODIFIED', object(1))).toBe(false); // a status write
    expect(changed('MODIFIED', object(2))).toBe(true);
    expect(changed('MODIFIED', object(2, { deletionTimestamp: new Date() }))).toBe(true);
    expect(changed('DELETED', object(2))).toBe(true);
  });

  it('find the controlling ChatCluster of an owned object', () => {
    const owned = { metadata: { namespace: 'ns', ownerReferences: [{ kind: 'ChatCluster', name: 'demo', controller: true, apiVersion: 'x', uid: 'u' }] } };
    expect(controllerKey(owned, 'ChatCluster')).toBe('ns/demo');
    expect(controllerKey({ metadata: { namespace: 'ns' } }, 'ChatCluster')).toBeUndefined();
  });
});
