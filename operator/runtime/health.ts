import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';

/** What the operator's readiness depends on. */
export interface OperatorState {
  /** This release's CRD is served (always, when the operator does not manage it). */
  crdCurrent: boolean;
  /** This replica leads and its controllers run. */
  controllersStarted: boolean;
  leaderElection: boolean;
}

/**
 * `/readyz`: not ready until this release's CRD is served (so `helm upgrade --wait` returns
 * only once the new schema is in place); then ready when leading, and a standby is ready
 * too: it is healthy and takes over when needed.
 */
export function readiness(state: OperatorState): { ready: boolean; says: string } {
  if (!state.crdCurrent) return { ready: false, says: 'applying the CRD' };
  if (state.controllersStarted) return { ready: true, says: 'ok' };
  return { ready: state.leaderElection, says: 'standby' };
}

/** The health port: `/healthz`, `/readyz` and `/metrics`. */
export function createHealthServer(state: () => OperatorState, registry: Registry): Server {
  return createServer((request, response) => {
    if (request.url === '/healthz') {
      response.end('ok');
    } else if (request.url === '/readyz') {
      const { ready, says } = readiness(state());
      response.statusCode = ready ? 200 : 503;
      response.end(says);
    } else if (request.url === '/metrics') {
      void registry.metrics().then((text) => {
        response.setHeader('content-type', registry.contentType);
        response.end(text);
      });
    } else {
      response.statusCode = 404;
      response.end();
    }
  });
}
