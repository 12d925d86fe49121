import { describe, expect, it } from 'vitest';
import { LastApplied, writeMark } from './apply.js';

const deployment = (generation: number, resourceVersion: string) => ({ kind: 'Deployment', metadata: { name: 'demo-chat', generation, resourceVersion } });
const configMap = (resourceVersion: string) => ({ kind: 'ConfigMap', metadata: { name: 'demo-chat-config', resourceVersion } });

describe('what the operator’s last apply left on an object', () => {
  it('is its generation where it has one (a status update does not change it), else its resourceVersion', () => {
    expect(writeMark(deployment(3, '100'))).toBe('generation 3');
    expect(writeMark(configMap('100'))).toBe('resourceVersion 100');
    expect(writeMark({ kind: 'ConfigMap', metadata: {} })).toBeUndefined();
  });

  it('matches the live object until someone else writes its spec', () => {
    const last = new LastApplied();
    expect(last.matches('ns/demo', deployment(3, '100'))).toBe(false);
    last.record('ns/demo', deployment(3, '100'));
    last.record('ns/demo', configMap('101'));
    // The Deployment controller's status writes move the resourceVersion, not the generation.
    expect(last.matches('ns/demo', deployment(3, '180'))).toBe(true);
    expect(last.matches('ns/demo', configMap('101'))).toBe(true);
    // `kubectl scale`, `kubectl edit`: the generation moves; a ConfigMap's resourceVersion does.
    expect(last.matches('ns/demo', deployment(4, '181'))).toBe(false);
    expect(last.matches('ns/demo', configMap('190'))).toBe(false);
    // Another ChatCluster's objects of the same names are not these.
    expect(last.matches('ns/other', deployment(3, '100'))).toBe(false);
    last.forget('ns/demo');
    expect(last.matches('ns/demo', deployment(3, '100'))).toBe(false);
  });
});
