import { describe, expect, it } from 'vitest';
import { CRD_HASH_ANNOTATION, CRD_VERSION_ANNOTATION, decideCrdUpgrade, readOwnCrd } from './upgrade.js';

const own = { version: '0.3.0', hash: 'abc' };
const installed = (version?: string, hash?: string) => ({
  annotations: { ...(version === undefined ? {} : { [CRD_VERSION_ANNOTATION]: version }), ...(hash === undefined ? {} : { [CRD_HASH_ANNOTATION]: hash }) },
});

describe('the operator keeps its CRD current', () => {
  it('applies it when none is installed, or one of no known version', () => {
    expect(decideCrdUpgrade(own, undefined).action).toBe('apply');
    expect(decideCrdUpgrade(own, installed()).action).toBe('apply');
    expect(decideCrdUpgrade(own, installed('not-a-version')).action).toBe('apply');
  });

  it('upgrades an older one, including from a pre-release', () => {
    expect(decideCrdUpgrade(own, installed('0.2.9', 'abc'))).toEqual({ action: 'apply', reason: 'upgrading from 0.2.9 to 0.3.0' });
    expect(decideCrdUpgrade(own, installed('0.3.0-rc.1', 'abc')).action).toBe('apply');
  });

  it('never downgrades a newer one (an old replica during a rollout)', () => {
    expect(decideCrdUpgrade(own, installed('0.10.0', 'zzz'))).toEqual({ action: 'keep', reason: 'installed by a newer release (0.10.0); this operator is 0.3.0' });
  });

  it('applies the same version with other content once (Helm-installed, or a dev build), then leaves it', () => {
    expect(decideCrdUpgrade(own, installed('0.3.0')).action).toBe('apply');
    expect(decideCrdUpgrade(own, installed('0.3.0', 'other')).action).toBe('apply');
    expect(decideCrdUpgrade(own, installed('0.3.0', 'abc'))).toEqual({ action: 'keep', reason: 'up to date' });
  });

  it('ships a CRD that carries its version and is applied with its hash', () => {
    const crd = readOwnCrd();
    expect(crd.object.metadata?.name).toBe('chatclusters.chatcluster.dev');
    expect(crd.object.metadata?.annotations?.[CRD_HASH_ANNOTATION]).toBe(crd.hash);
    expect(crd.hash).toMatch(/^[0-9a-f]{16}$/);
  });
});
