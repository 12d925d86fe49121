import type { Bus } from '../bus/bus.js';
import { ChatError } from '../protocol/errors.js';
import { ackOf } from '../protocol/frames.js';
import type { Store } from '../store/store.js';
import type { Delivery } from './delivery.js';

/**
 * Routes the messages `node` accepted and never finished routing (it died, or this is its
 * next life after a crash): those that reached the store are routed now, those that did not
 * were never acked and are dropped. A sender's `idem` is answered with the stored message's
 * ack, or freed for a retry when it was not stored, so a retry neither waits out the pending
 * claim nor stores a message the dead node had stored. Resolves with the ids it went through.
 * Recipients that got a message before the node died may get it once more; clients drop
 * repeats by id.
 */
export async function finishUnsettledMessages(node: string, deps: { bus: Bus; store: Store; delivery: Delivery }): Promise<string[]> {
  const { bus } = deps;
  const entries = await bus.progress.unsettled(node);
  for (const entry of entries) {
    const stored = await deps.store.findMessage(entry.message.conv, entry.message.id);
    const sender = entry.message.from;
    if (stored === undefined) {
      if (entry.idem !== undefined) await bus.idempotency.release(sender, entry.idem);
      continue;
    }
    if (entry.idem !== undefined) await bus.idempotency.complete(sender, entry.idem, ackOf(stored));
    if (!(await deps.delivery.routeMessage(stored, entry.acceptedAt))) {
      throw new ChatError('unavailable', `stopped before routing the messages ${node} left in flight`);
    }
  }
  return entries.map((entry) => entry.message.id);
}
