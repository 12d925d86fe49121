import type { V1Deployment } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { DRAIN_SECONDS, TEMPLATE_HASH } from './node.js';
import { rolloutMinReadySeconds } from './rollout-pace.js';

const live = (template: string, generation: number, status: V1Deployment['status'], minReadySeconds?: number): V1Deployment => ({
  metadata: { generation, annotations: { [TEMPLATE_HASH]: template } },
  spec: { selector: {}, template: {}, ...(minReadySeconds === undefined ? {} : { minReadySeconds }) },
  status,
});

describe('rolloutMinReadySeconds', () => {
  it('sets a drain\'s length when the pod template changes, so one old pod drains at a time', () => {
    expect(rolloutMinReadySeconds(live('old', 3, { observedGeneration: 3, replicas: 2, updatedReplicas: 2 }), 'new')).toBe(DRAIN_SECONDS);
  });

  it('keeps it while old pods are left to replace', () => {
    expect(rolloutMinReadySeconds(live('new', 4, { observedGeneration: 4, replicas: 3, updatedReplicas: 2 }, DRAIN_SECONDS), 'new')).toBe(DRAIN_SECONDS);
  });

  it('keeps what is set while the status has not caught up with a write, so it does not flip back and forth', () => {
    expect(rolloutMinReadySeconds(live('new', 5, { observedGeneration: 4, replicas: 2, updatedReplicas: 2 }, DRAIN_SECONDS), 'new')).toBe(DRAIN_SECONDS);
    expect(rolloutMinReadySeconds(live('new', 5, { observedGeneration: 4, replicas: 3, updatedReplicas: 2 }), 'new')).toBeUndefined();
  });

  it('sets nothing once every pod is new, at steady state, or before the Deployment exists', () => {
    expect(rolloutMinReadySeconds(live('new', 4, { observedGeneration: 4, replicas: 2, updatedReplicas: 2 }, DRAIN_SECONDS), 'new')).toBeUndefined();
    expect(rolloutMinReadySeconds(undefined, 'new')).toBeUndefined();
  });
});
