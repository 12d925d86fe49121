import type { Client, Host } from 'cassandra-driver';
import { CQL_IDENTIFIER } from '../../common/chatcluster.js';

/**
 * A keyspace's replication as a CQL map: `class` plus the strategy's settings
 * (`replication_factor` for SimpleStrategy, one entry per datacenter for
 * NetworkTopologyStrategy).
 */
export type Replication = Readonly<{ class: string } & Record<string, string | number>>;

/** `replicationFactor` replicas placed without regard to datacenters: for single-node tests. */
export function simpleStrategy(replicationFactor: number): Replication {
  return { class: 'SimpleStrategy', replication_factor: replicationFactor };
}

/** Replicas per datacenter, what production clusters use. */
export function networkTopologyStrategy(replicasPerDatacenter: Readonly<Record<string, number>>): Replication {
  return { class: 'NetworkTopologyStrategy', ...replicasPerDatacenter };
}

export interface MigrateOptions {
  keyspace: string;
  replication: Replication;
}

/** Every table of the store, in the order `migrate` creates them. */
export const TABLES = [
  'users',
  'groups',
  'group_members',
  'user_groups',
  'messages',
  'conversation_buckets',
  'user_conversations',
  'user_sessions',
  'node_sessions',
  'nodes',
] as const;

// Unquoted CQL identifiers: the keyspace name is spliced into DDL, so it must be one.
const KEYSPACE_NAME = CQL_IDENTIFIER;

/** The CQL statements that create the keyspace's tables; each is a no-op when its table exists. */
export function tableStatements(keyspace: string): string[] {
  const ks = checkedKeyspace(keyspace);
  // Session rows carry a TTL of seconds and sessions churn: a node's partition collects a
  // tombstone per closed socket. A short gc_grace keeps reads of it fast; a deletion a
  // replica missed can only resurrect a row that expires by its own TTL soon after.
  const ephemeral = 'gc_grace_seconds = 3600';
  return [
    `CREATE TABLE IF NOT EXISTS ${ks}.users (
      id text PRIMARY KEY,
      first_seen timestamp,
      last_seen timestamp)`,
    `CREATE TABLE IF NOT EXISTS ${ks}.groups (
      name text PRIMARY KEY,
      created_by text,
      created_at timestamp)`,
    `CREATE TABLE IF NOT EXISTS ${ks}.group_members (
      group_name text,
      user_id text,
      PRIMARY KEY ((group_name), user_id))`,
    `CREATE TABLE IF NOT EXISTS ${ks}.user_groups (
      user_id text,
      group_name text,
      PRIMARY KEY ((user_id), group_name))`,
    `CREATE TABLE IF NOT EXISTS ${ks}.messages (
      conv_id text,
      bucket int,
      id text,
      from_user text,
      to_kind text,
      to_id text,
      text text,
      sealed blob,
      ts timestamp,
      PRIMARY KEY ((conv_id, bucket), id))
      WITH CLUSTERING ORDER BY (id DESC)`,
    `CREATE TABLE IF NOT EXISTS ${ks}.conversation_buckets (
      conv_id text,
      bucket int,
      PRIMARY KEY ((conv_id), bucket))
      WITH CLUSTERING ORDER BY (bucket DESC)`,
    `CREATE TABLE IF NOT EXISTS ${ks}.user_conversations (
      user_id text,
      conv_id text,
      last_id text,
      PRIMARY KEY ((user_id), conv_id))`,
    `CREATE TABLE IF NOT EXISTS ${ks}.user_sessions (
      user_id text,
      node_id text,
      session_id text,
      PRIMARY KEY ((user_id), node_id, session_id))
      WITH ${ephemeral}`,
    `CREATE TABLE IF NOT EXISTS ${ks}.node_sessions (
      node_id text,
      user_id text,
      session_id text,
      PRIMARY KEY ((node_id), user_id, session_id))
      WITH ${ephemeral}`,
    `CREATE TABLE IF NOT EXISTS ${ks}.nodes (
      id text PRIMARY KEY,
      address text,
      started_at timestamp,
      heartbeat_at timestamp,
      connections int)`,
  ];
}

/**
 * Columns added after their table was first released: `migrate` adds each to a table
 * that lacks it. `messages.sealed` holds the text encrypted at rest (text-sealing.ts),
 * `text` then stays unset.
 */
export const ADDED_COLUMNS = [{ table: 'messages', column: 'sealed', type: 'blob' }] as const;

/** The CQL that creates the keyspace unless it exists (an existing keyspace's replication is left alone). */
export function keyspaceStatement(keyspace: string, replication: Replication): string {
  return `CREATE KEYSPACE IF NOT EXISTS ${checkedKeyspace(keyspace)} WITH replication = ${cqlMap(replication)}`;
}

/**
 * Creates the keyspace and every table unless they exist; safe to run repeatedly and from
 * several processes at once. The client needs no keyspace of its own.
 */
export async function migrate(client: Client, options: MigrateOptions): Promise<void> {
  await client.connect();
  // Two coordinators creating the same table at the same moment give it two different ids,
  // and the schema disagreement that follows is not repaired by IF NOT EXISTS. Sending
  // every DDL statement of every migrating process to the same node serializes them there,
  // where IF NOT EXISTS is exact. The driver waits for schema agreement after each one.
  const host = schemaCoordinator(client);
  const statements = [keyspaceStatement(options.keyspace, options.replication), ...tableStatements(options.keyspace)];
  const onCoordinator = host === undefined ? {} : { host };
  for (const statement of statements) {
    await client.execute(statement, [], onCoordinator);
  }
  const ks = checkedKeyspace(options.keyspace);
  for (const { table, column, type } of ADDED_COLUMNS) {
    // Asked rather than `ADD IF NOT EXISTS`, which Cassandra before 5.0 does not parse.
    const existing = await client.execute(
      'SELECT column_name FROM system_schema.columns WHERE keyspace_name = ? AND table_name = ? AND column_name = ?',
      [ks, table, column],
      { ...onCoordinator, prepare: true },
    );
    if (existing.rowLength > 0) continue;
    try {
      await client.execute(`ALTER TABLE ${ks}.${table} ADD ${column} ${type}`, [], onCoordinator);
    } catch (error) {
      // Another migrating process added it in between.
      if (!(error instanceof Error && /already exist/i.test(error.message))) throw error;
    }
  }
}

/** The up host every migrating process picks alike: the lowest address. */
function schemaCoordinator(client: Client): Host | undefined {
  const up = client.hosts.values().filter((host) => host.isUp());
  up.sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
  return up[0];
}

function checkedKeyspace(keyspace: string): string {
  if (!KEYSPACE_NAME.test(keyspace)) {
    throw new RangeError(`keyspace name ${JSON.stringify(keyspace)} is not 1 to 48 letters, digits or _, starting with a letter`);
  }
  return keyspace;
}

/** A CQL map literal of strings, quotes escaped, e.g. `{'class': 'SimpleStrategy', 'replication_factor': '1'}`. */
function cqlMap(entries: Readonly<Record<string, string | number>>): string {
  const quote = (value: string | number): string => `'${String(value).replaceAll("'", "''")}'`;
  return `{${Object.entries(entries)
    .map(([key, value]) => `${quote(key)}: ${quote(value)}`)
    .join(', ')}}`;
}
