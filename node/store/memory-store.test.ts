import { describeStoreContract } from '../../test/contract/store-contract.js';
import { MemoryStore } from './memory-store.js';

// The embedded node's store must behave exactly like the Cassandra one.
describeStoreContract('MemoryStore', () => {
  const store = new MemoryStore();
  return Promise.resolve({ store, close: () => store.close() });
});
