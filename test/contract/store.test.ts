import { randomBytes } from 'node:crypto';
import { Keyring } from '../../node/at-rest/keyring.js';
import { TextSealer } from '../../node/at-rest/text-sealer.js';
import { MemoryStore } from '../../node/store/memory-store.js';
import { openMigratedStore } from '../support/cassandra.js';
import { testEnvironment } from '../support/env.js';
import { describeStoreContract } from './store-contract.js';

// Every Store, one contract: the embedded node's must behave exactly like the Cassandra one.
describeStoreContract('MemoryStore', () => {
  const store = new MemoryStore();
  return Promise.resolve({ store, close: () => store.close() });
});

// The contract again with bounds so small that every test's messages overflow one: what
// is kept must still page, sync and dedupe like any store (the contract's own tests keep
// at most 15 messages per conversation, so only the total bound drops, and only old tests').
describeStoreContract('MemoryStore under a small total bound', () => {
  const store = new MemoryStore({ bounds: { maxMessagesPerConversation: 100, maxBytes: 64 * 1024 } });
  return Promise.resolve({ store, close: () => store.close() });
});

describeStoreContract('CassandraStore', () => openMigratedStore(testEnvironment()));

// And with every text encrypted at rest: sealing must change nothing a client sees.
describeStoreContract('CassandraStore with texts encrypted at rest', () =>
  openMigratedStore(testEnvironment(), { sealer: new TextSealer(new Keyring(() => [{ version: 1, bytes: randomBytes(32) }])) }),
);
