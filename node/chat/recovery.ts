import type { Bus } from '../bus/bus.js';
import { ChatError, isUnavailable } from '../protocol/errors.js';
import { syncParticipants } from '../protocol/conversations.js';
import { ackOf } from '../protocol/frames.js';
import type { Store } from '../store/store.js';
import type { Delivery } from './delivery.js';

/**
 * Routes the messages `node` accepted and never finished routing (it died, or this is its
 * next life after a crash). Those that reached the store are routed now. Those that did not
 * were never acked: without an `idem` they are dropped. With one, the sender may retry, and
 * a write that timed out may still land, so the message is written here under its own id
 * (an idempotent write) and routed, and the `idem` answered with its ack: a retry then gets
 * that ack, and no second copy is stored. Unless a retry took the `idem` already (the claim
 * lapsed first, as it does when Cassandra stays down past it): then the retry's copy is the
 * one kept, and this one is routed only if it was found stored. Resolves with the ids it went
 * through. Recipients that got a message before the node died may get it once more; clients
 * drop repeats by id.
 */
export async function finishUnsettledMessages(node: string, deps: { bus: Bus; store: Store; delivery: Delivery }): Promise<string[]> {
  const { bus, store } = deps;
  const entries = await bus.progress.unsettled(node);
  for (const { message, acceptedAt, idem } of entries) {
    let stored = await store.findMessage(message.conv, message.id);
    if (stored === undefined) {
      // Not stored. Its idem answered or claimed by another send (this claim lapsed and a
      // retry took it): the retry's copy is the one kept, and this one is dropped.
      if (idem === undefined || !(await bus.idempotency.adopt(message.from, idem, message.id))) continue;
      try {
        await store.appendMessage(message, syncParticipants(message.from, message.to));
      } catch (error) {
        // Unavailable: tried again on a later beat. Refused for good: the retry may go ahead.
        if (isUnavailable(error)) throw error;
        await bus.idempotency.release(message.from, idem, message.id);
        continue;
      }
      stored = message;
    }
    if (idem !== undefined) await bus.idempotency.complete(message.from, idem, ackOf(stored));
    if (!(await deps.delivery.routeMessage(stored, acceptedAt))) {
      throw new ChatError('unavailable', `stopped before routing the messages ${node} left in flight`);
    }
  }
  return entries.map((entry) => entry.message.id);
}
