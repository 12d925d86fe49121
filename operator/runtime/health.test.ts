import { describe, expect, it } from 'vitest';
import { readiness } from './health.js';

describe('the operator readiness', () => {
  it('is not ready until this release\'s CRD is served', () => {
    expect(readiness({ crdCurrent: false, controllersStarted: true, leaderElection: true })).toEqual({ ready: false, says: 'applying the CRD' });
  });

  it('is ready when leading, and as a standby only with leader election', () => {
    expect(readiness({ crdCurrent: true, controllersStarted: true, leaderElection: false })).toEqual({ ready: true, says: 'ok' });
    expect(readiness({ crdCurrent: true, controllersStarted: false, leaderElection: true })).toEqual({ ready: true, says: 'standby' });
    expect(readiness({ crdCurrent: true, controllersStarted: false, leaderElection: false })).toEqual({ ready: false, says: 'standby' });
  });
});
