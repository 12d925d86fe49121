import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monotonicFactory } from 'ulid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatMessage } from '../../node/protocol/frames.js';
import { messageIdTime } from '../../node/protocol/ids.js';
import { Keyring, readKeyDirectory } from '../../node/at-rest/keyring.js';
import { TextSealer } from '../../node/at-rest/text-sealer.js';
import { sealedKeyVersion } from '../../node/at-rest/text-sealing.js';
import { cassandraClient } from '../../node/store/cassandra/client.js';
import { resealMessages } from '../../node/store/cassandra/reseal.js';
import { CassandraStore } from '../../node/store/cassandra/store.js';
import { migrate, simpleStrategy } from '../../node/store/schema.js';
import { cassandraConnection, freshKeyspace } from '../support/cassandra.js';
import { testEnvironment } from '../support/env.js';

const env = testEnvironment();
const cluster = cassandraConnection(env);
const nextId = monotonicFactory();

/** A keys directory as a mounted Secret leaves it, with real files the keyring reads. */
function keysDirectory(): { dir: string; add(version: number): void; retire(version: number): void; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'at-rest-keys-'));
  return {
    dir,
    add: (version) => {
      writeFileSync(join(dir, `v${version}`), `${randomBytes(32).toString('base64')}\n`);
    },
    retire: (version) => {
      rmSync(join(dir, `v${version}`));
    },
    remove: () => {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function directMessage(text: string): ChatMessage {
  const id = nextId();
  return { id, conv: 'd:alice:bob', from: 'alice', to: { user: 'bob' }, text, ts: messageIdTime(id) };
}

describe('message texts encrypted at rest, on Cassandra', () => {
  const keyspace = freshKeyspace();
  const admin = cassandraClient(cluster);
  // What `reseal` runs with: a client on the store's keyspace.
  let resealClient: ReturnType<typeof cassandraClient>;
  const keys = keysDirectory();
  let keyring: Keyring;
  let encrypting: CassandraStore;
  let plain: CassandraStore;

  beforeAll(async () => {
    await migrate(admin, { keyspace, replication: simpleStrategy(1) });
    keys.add(1);
    keyring = new Keyring(() => readKeyDirectory(keys.dir), { minReadIntervalMs: 0 });
    encrypting = await CassandraStore.connect({ ...cluster, keyspace }, { sealer: new TextSealer(keyring) });
    plain = await CassandraStore.connect({ ...cluster, keyspace });
    resealClient = cassandraClient({ ...cluster, keyspace });
  });
  afterAll(async () => {
    await Promise.all([encrypting.close(), plain.close(), resealClient.shutdown()]);
    await admin.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`);
    await admin.shutdown();
    keys.remove();
  });

  async function rawRows(): Promise<{ id: string; text: string | null; sealed: Buffer | null }[]> {
    const result = await admin.execute(`SELECT id, text, sealed FROM ${keyspace}.messages`, [], { fetchSize: 10_000 });
    return result.rows.map((row) => ({ id: row.get('id') as string, text: row.get('text') as string | null, sealed: row.get('sealed') as Buffer | null }));
  }

  it('never writes the text into a row, and gives it back through every read', async () => {
    const secret = `the vault code is ${randomBytes(6).toString('hex')}`;
    const message = directMessage(secret);
    await encrypting.appendMessage(message, ['alice', 'bob']);

    const row = (await rawRows()).find((candidate) => candidate.id === message.id);
    expect(row?.text).toBeNull();
    expect(row?.sealed).toBeInstanceOf(Buffer);
    expect(row?.sealed?.toString('latin1')).not.toContain('vault');
    expect(sealedKeyVersion(row?.sealed ?? Buffer.alloc(0))).toBe(1);

    expect(await encrypting.findMessage(message.conv, message.id)).toEqual(message);
    expect((await encrypting.history(message.conv, { limit: 10 })).messages).toContainEqual(message);
    expect((await encrypting.sync('bob', { limit: 100 })).messages).toContainEqual(message);
  });

  it('refuses to show a sealed text to a node without keys, saying why', async () => {
    const message = directMessage('only for key holders');
    await encrypting.appendMessage(message, ['alice', 'bob']);
    await expect(plain.findMessage(message.conv, message.id)).rejects.toMatchObject({
      code: 'internal',
      message: expect.stringMatching(/encrypted at rest.*CHAT_AT_REST_KEYS_DIR/) as unknown,
    });
  });

  it('rotates keys with no message lost: plaintext, v1 and v2 rows all readable, resealed to v2, then v1 retired', async () => {
    // Written before encryption was turned on.
    const before = ['plain one', 'plain two'].map(directMessage);
    for (const message of before) await plain.appendMessage(message, ['alice', 'bob']);
    const underV1 = ['sealed one', 'sealed two', 'sealed three'].map(directMessage);
    for (const message of underV1) await encrypting.appendMessage(message, ['alice', 'bob']);

    keys.add(2);
    keyring.refresh();
    const underV2 = ['after rotation'].map(directMessage);
    for (const message of underV2) await encrypting.appendMessage(message, ['alice', 'bob']);

    const rowsBefore = await rawRows();
    const versionsBefore = rowsBefore.map((row) => (row.sealed === null ? 'plain' : `v${sealedKeyVersion(row.sealed)}`));
    expect(versionsBefore.filter((version) => version === 'plain')).toHaveLength(2);
    expect(versionsBefore.filter((version) => version === 'v2')).toHaveLength(1);

    const history = async (): Promise<ChatMessage[]> => (await encrypting.history('d:alice:bob', { limit: 1_000 })).messages;
    const everything = await history();
    for (const message of [...before, ...underV1, ...underV2]) expect(everything).toContainEqual(message);

    // A small page, so the pass must follow the driver's paging.
    const report = await resealMessages(resealClient, new TextSealer(keyring), { pageRows: 2 });
    const v1Rows = versionsBefore.filter((version) => version === 'v1').length;
    expect(report).toEqual({ scanned: rowsBefore.length, sealedPlaintext: 2, rekeyed: v1Rows, current: 1, keyVersion: 2 });

    const rowsAfter = await rawRows();
    expect(rowsAfter).toHaveLength(rowsBefore.length);
    expect(rowsAfter.every((row) => row.text === null && row.sealed !== null && sealedKeyVersion(row.sealed) === 2)).toBe(true);
    expect(rowsAfter.some((row) => row.sealed?.toString('latin1').includes('plain'))).toBe(false);

    // Run again: nothing left to do.
    expect(await resealMessages(resealClient, new TextSealer(keyring))).toEqual({ scanned: rowsBefore.length, sealedPlaintext: 0, rekeyed: 0, current: rowsBefore.length, keyVersion: 2 });

    keys.retire(1);
    keyring.refresh();
    expect(keyring.versions).toEqual([2]);
    expect(await history()).toEqual(everything);
  });
});

describe('migrate on a keyspace made before encryption at rest', () => {
  it('adds the sealed column, and running again (or twice at once) changes nothing', async () => {
    const keyspace = freshKeyspace();
    const admin = cassandraClient(cluster);
    try {
      await admin.execute(`CREATE KEYSPACE ${keyspace} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`);
      // The messages table as the first release made it.
      await admin.execute(
        `CREATE TABLE ${keyspace}.messages (conv_id text, bucket int, id text, from_user text, to_kind text, to_id text, text text, ts timestamp, PRIMARY KEY ((conv_id, bucket), id)) WITH CLUSTERING ORDER BY (id DESC)`,
      );
      const columns = async (): Promise<string[]> =>
        (
          await admin.execute('SELECT column_name FROM system_schema.columns WHERE keyspace_name = ? AND table_name = ?', [keyspace, 'messages'], {
            prepare: true,
          })
        ).rows.map((row) => row.get('column_name') as string);
      expect(await columns()).not.toContain('sealed');
      const second = cassandraClient(cluster);
      try {
        await Promise.all([migrate(admin, { keyspace, replication: simpleStrategy(1) }), migrate(second, { keyspace, replication: simpleStrategy(1) })]);
      } finally {
        await second.shutdown();
      }
      await migrate(admin, { keyspace, replication: simpleStrategy(1) });
      expect(await columns()).toContain('sealed');
    } finally {
      await admin.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`);
      await admin.shutdown();
    }
  });
});
