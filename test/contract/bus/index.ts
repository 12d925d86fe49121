import { describe, expect, it } from 'vitest';
import { useBus, type OpenBus } from './harness.js';
import { describeInboxContract } from './inbox.js';
import { describeSignalsContract } from './signals.js';
import { describePresenceContract } from './presence.js';
import { describeRouteCacheContract } from './route-cache.js';
import { describeIdempotencyKeysContract } from './idempotency.js';
import { describeHeartbeatsContract } from './heartbeats.js';
import { describeProgressContract } from './progress.js';

export type { OpenBus } from './harness.js';
export { messageEnvelope, publishRange, range, seqOf } from './harness.js';

/**
 * The behaviour every `Bus` must have, whatever carries it (Redis, in-process): one suite
 * per port. Several nodes are played through one bus (each test uses fresh node, user and
 * group names), so the suites run against implementations that share nothing between two
 * opens.
 */
export function describeBusContract(name: string, open: () => Promise<OpenBus>): void {
  describeInboxContract(name, open);
  describeSignalsContract(name, open);
  describePresenceContract(name, open);
  describeRouteCacheContract(name, open);
  describeIdempotencyKeysContract(name, open);
  describeHeartbeatsContract(name, open);
  describeProgressContract(name, open);
  describe(`${name}: as a whole`, () => {
    const h = useBus(open);
    it('reports itself healthy while its server answers', async () => {
      expect(await h.bus.isHealthy()).toBe(true);
    });
  });
}
