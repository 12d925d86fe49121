import { describeBusContract } from '../../test/contract/bus-contract.js';
import { MemoryBus } from './memory-bus.js';

// The embedded node's bus must behave exactly like the Redis one.
describeBusContract('MemoryBus', () => {
  const bus = new MemoryBus();
  return Promise.resolve({ bus, close: () => bus.close() });
});
