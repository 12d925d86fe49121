import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { holdRollout, STUCK_TERMINATING_MS } from './rollout-pace.js';

const NOW = Date.parse('2026-12-02T03:00:00Z');
const deployment = (replicas: number, updatedReplicas: number): V1Deployment => ({ status: { replicas, updatedReplicas } });
const serving: V1Pod = { metadata: { name: 'serving' } };
/** A pod deleted with its grace period ending `inMs` from now (negative: already past). */
const terminating = (inMs: number): V1Pod => ({ metadata: { name: 'draining', deletionTimestamp: new Date(NOW + inMs) } });

describe('holdRollout', () => {
  it('holds a rollout while a node pod drains and old pods are still to be replaced', () => {
    // Two replicas, one new ready, one old left, one old draining.
    expect(holdRollout(deployment(2, 1), [serving, serving, terminating(20_000)], NOW)).toBe(true);
  });

  it('releases it once the draining pod is gone', () => {
    expect(holdRollout(deployment(3, 2), [serving, serving, serving], NOW)).toBe(false);
  });

  it('does not hold the last step or a scale-down: no old pod is left to replace', () => {
    expect(holdRollout(deployment(2, 2), [serving, serving, terminating(20_000)], NOW)).toBe(false);
  });

  it('does not wait for a pod stuck terminating well past its grace period', () => {
    expect(holdRollout(deployment(2, 1), [serving, terminating(-STUCK_TERMINATING_MS - 1)], NOW)).toBe(false);
    expect(holdRollout(deployment(2, 1), [serving, terminating(-STUCK_TERMINATING_MS + 1_000)], NOW)).toBe(true);
  });

  it('holds nothing before the Deployment exists', () => {
    expect(holdRollout(undefined, [terminating(1_000)], NOW)).toBe(false);
  });
});
