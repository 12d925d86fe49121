import { Client, errors, policies, types, type QueryOptions } from 'cassandra-driver';
import { ChatError } from '../protocol/errors.js';
import type { ChatMessage, GroupInfo, Target } from '../protocol/frames.js';
import { isMessageId, messageIdTime } from '../protocol/ids.js';
import { bucketOfMessageId } from './buckets.js';
import type { HistoryPage, NodeRecord, SessionRecord, Store, SyncPage } from './store.js';

/** Where the Cassandra cluster is and how long to wait for it. */
export interface CassandraConnection {
  /** `host:port` (or `host`, port 9042) of one or more nodes. */
  contactPoints: readonly string[];
  localDataCenter: string;
  /** The keyspace every unqualified table name refers to; unset for `migrate`. */
  keyspace?: string;
  connectTimeoutMs?: number;
  readTimeoutMs?: number;
}

export interface CassandraStoreOptions {
  /** How many requests one call keeps in flight when it fans out over participants or conversations. */
  fanOut?: number;
  /** Rows fetched per page when reading a whole partition (members, groups, sessions, conversations). */
  pageRows?: number;
}

const { consistencies } = types;

// Every statement is prepared: the coordinator parses it once, and the driver routes it to
// a replica of the partition it names (token awareness needs the prepared metadata).
const READ: QueryOptions = { prepare: true, consistency: consistencies.localQuorum, isIdempotent: true };
// Every write below sets whole rows to values fixed by the call, so a retry after a timeout
// cannot change the result: the driver may retry them and speculate.
const WRITE: QueryOptions = { prepare: true, consistency: consistencies.localQuorum, isIdempotent: true };
// A retried `IF NOT EXISTS` whose first attempt was applied answers "not applied": never retry it.
const LWT: QueryOptions = {
  prepare: true,
  consistency: consistencies.localQuorum,
  serialConsistency: consistencies.localSerial,
  isIdempotent: false,
};

const MESSAGE_COLUMNS = 'conv_id, id, from_user, to_kind, to_id, text, ts';
const MESSAGES_OF_BUCKET = `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE conv_id = ? AND bucket = ?`;

const CQL = {
  insertGroup: 'INSERT INTO groups (name, created_by, created_at) VALUES (?, ?, ?) IF NOT EXISTS',
  selectGroup: 'SELECT name, created_by, created_at FROM groups WHERE name = ?',
  insertGroupMember: 'INSERT INTO group_members (group_name, user_id) VALUES (?, ?)',
  insertUserGroup: 'INSERT INTO user_groups (user_id, group_name) VALUES (?, ?)',
  deleteGroupMember: 'DELETE FROM group_members WHERE group_name = ? AND user_id = ?',
  deleteUserGroup: 'DELETE FROM user_groups WHERE user_id = ? AND group_name = ?',
  selectMember: 'SELECT user_id FROM group_members WHERE group_name = ? AND user_id = ?',
  selectMembers: 'SELECT user_id FROM group_members WHERE group_name = ?',
  selectGroupsOf: 'SELECT group_name FROM user_groups WHERE user_id = ?',

  insertMessage:
    'INSERT INTO messages (conv_id, bucket, id, from_user, to_kind, to_id, text, ts) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
  insertConversationBucket: 'INSERT INTO conversation_buckets (conv_id, bucket) VALUES (?, ?)',
  upsertUserConversation: 'INSERT INTO user_conversations (user_id, conv_id, last_id) VALUES (?, ?, ?)',
  selectUserConversations: 'SELECT conv_id, last_id FROM user_conversations WHERE user_id = ?',
  bucketsNewestFirst: 'SELECT bucket FROM conversation_buckets WHERE conv_id = ?',
  bucketsNewestFirstUpTo: 'SELECT bucket FROM conversation_buckets WHERE conv_id = ? AND bucket <= ?',
  bucketsOldestFirstFrom: 'SELECT bucket FROM conversation_buckets WHERE conv_id = ? AND bucket >= ? ORDER BY bucket ASC',
  messageById: `${MESSAGES_OF_BUCKET} AND id = ?`,
  messagesNewestFirst: `${MESSAGES_OF_BUCKET} LIMIT ?`,
  messagesNewestFirstBefore: `${MESSAGES_OF_BUCKET} AND id < ? LIMIT ?`,
  messagesOldestFirst: `${MESSAGES_OF_BUCKET} ORDER BY id ASC LIMIT ?`,
  messagesOldestFirstAfter: `${MESSAGES_OF_BUCKET} AND id > ? ORDER BY id ASC LIMIT ?`,

  insertUserSession: 'INSERT INTO user_sessions (user_id, node_id, session_id) VALUES (?, ?, ?) USING TTL ?',
  insertNodeSession: 'INSERT INTO node_sessions (node_id, user_id, session_id) VALUES (?, ?, ?) USING TTL ?',
  deleteUserSession: 'DELETE FROM user_sessions WHERE user_id = ? AND node_id = ? AND session_id = ?',
  deleteNodeSession: 'DELETE FROM node_sessions WHERE node_id = ? AND user_id = ? AND session_id = ?',
  selectSessionsOf: 'SELECT node_id, session_id FROM user_sessions WHERE user_id = ?',
  selectSessionsOnNode: 'SELECT user_id, session_id FROM node_sessions WHERE node_id = ?',

  upsertNode: 'INSERT INTO nodes (id, address, started_at, heartbeat_at, connections) VALUES (?, ?, ?, ?, ?)',
  deleteNode: 'DELETE FROM nodes WHERE id = ?',
  selectNodes: 'SELECT id, address, started_at, heartbeat_at, connections FROM nodes',

  health: 'SELECT release_version FROM system.local',
} as const;

// Server answers that mean "not enough replicas answered in time", as opposed to a bad query.
const UNAVAILABLE_RESPONSES: ReadonlySet<number> = new Set([
  types.responseErrorCodes.unavailableException,
  types.responseErrorCodes.overloaded,
  types.responseErrorCodes.isBootstrapping,
  types.responseErrorCodes.writeTimeout,
  types.responseErrorCodes.readTimeout,
]);

/** Whether a driver failure means Cassandra could not be reached or did not answer in time. */
export function isCassandraUnavailable(error: unknown): boolean {
  return (
    error instanceof errors.NoHostAvailableError ||
    error instanceof errors.OperationTimedOutError ||
    error instanceof errors.BusyConnectionError ||
    (error instanceof errors.ResponseError && UNAVAILABLE_RESPONSES.has(error.code))
  );
}

/** A store failure as a protocol error: `unavailable` (safe to retry) or `internal`, with the cause. */
export function storeError(error: unknown, operation: string): ChatError {
  if (error instanceof ChatError) return error;
  if (isCassandraUnavailable(error)) {
    return new ChatError('unavailable', `Cassandra is unavailable (${operation})`, { cause: error });
  }
  return new ChatError('internal', `Cassandra failed (${operation})`, { cause: error });
}

/**
 * How long the driver waits, at most, before trying a node it lost again. Its default (10
 * minutes, doubling from 1 s) would leave a node unready and refusing every send for up to
 * that long after Cassandra is back; one connection attempt every few seconds costs nothing.
 */
const MAX_RECONNECT_DELAY_MS = 5_000;

/** A driver client for a cluster, not yet connected. */
export function cassandraClient(connection: CassandraConnection): Client {
  return new Client({
    contactPoints: [...connection.contactPoints],
    localDataCenter: connection.localDataCenter,
    keyspace: connection.keyspace,
    socketOptions: {
      connectTimeout: connection.connectTimeoutMs ?? 5_000,
      readTimeout: connection.readTimeoutMs ?? 12_000,
    },
    policies: { reconnection: new policies.reconnection.ExponentialReconnectionPolicy(1_000, MAX_RECONNECT_DELAY_MS) },
  });
}

/** The `Store` on Cassandra (tables in schema.ts). */
export class CassandraStore implements Store {
  private readonly fanOut: number;
  private readonly pageRows: number;

  /** Uses a client that is connected (or will connect on first use) with the store's keyspace; `close` shuts it down. */
  constructor(
    private readonly client: Client,
    options: CassandraStoreOptions = {},
  ) {
    this.fanOut = options.fanOut ?? 32;
    this.pageRows = options.pageRows ?? 1_000;
  }

  /** Connects to the cluster and returns a store on `connection.keyspace`. */
  static async connect(connection: CassandraConnection, options?: CassandraStoreOptions): Promise<CassandraStore> {
    const client = cassandraClient(connection);
    try {
      await client.connect();
    } catch (error) {
      await client.shutdown().catch(() => undefined);
      throw storeError(error, 'connect');
    }
    return new CassandraStore(client, options);
  }

  /** Inserts the group with a lightweight transaction, so of two creators exactly one wins. */
  createGroup(group: GroupInfo): Promise<boolean> {
    return this.guarded('createGroup', async () => {
      const params = [group.name, group.createdBy, new Date(group.createdAt)];
      const result = await this.client.execute(CQL.insertGroup, params, LWT);
      return result.wasApplied();
    });
  }

  /** The group's record, or undefined when no such group exists. */
  getGroup(name: string): Promise<GroupInfo | undefined> {
    return this.guarded('getGroup', async () => {
      const row = (await this.client.execute(CQL.selectGroup, [name], READ)).rows[0];
      if (row === undefined) return undefined;
      return { name: text(row, 'name'), createdBy: text(row, 'created_by'), createdAt: millis(row, 'created_at') };
    });
  }

  /** Writes both membership directions in one logged batch. */
  addMember(group: string, user: string): Promise<void> {
    return this.guarded('addMember', async () => {
      // Two partitions that must agree: a logged batch makes a half-written membership (the
      // user lists the group but the group does not list the user) impossible even when the
      // coordinator dies mid-way; the batch log replays the rest.
      const queries = [
        { query: CQL.insertGroupMember, params: [group, user] },
        { query: CQL.insertUserGroup, params: [user, group] },
      ];
      await this.client.batch(queries, { ...WRITE, logged: true });
    });
  }

  /** Removes both membership directions in one logged batch. */
  removeMember(group: string, user: string): Promise<void> {
    return this.guarded('removeMember', async () => {
      const queries = [
        { query: CQL.deleteGroupMember, params: [group, user] },
        { query: CQL.deleteUserGroup, params: [user, group] },
      ];
      await this.client.batch(queries, { ...WRITE, logged: true });
    });
  }

  /** Whether the group lists the user. */
  isMember(group: string, user: string): Promise<boolean> {
    return this.guarded('isMember', async () => {
      const result = await this.client.execute(CQL.selectMember, [group, user], READ);
      return result.rowLength > 0;
    });
  }

  /** The group's members, sorted (the partition's clustering order). */
  members(group: string): Promise<string[]> {
    return this.guarded('members', async () => {
      const members: string[] = [];
      for await (const row of this.allRows(CQL.selectMembers, [group])) members.push(text(row, 'user_id'));
      return members;
    });
  }

  /** The user's groups, sorted by name (the partition's clustering order). */
  groupsOf(user: string): Promise<string[]> {
    return this.guarded('groupsOf', async () => {
      const groups: string[] = [];
      for await (const row of this.allRows(CQL.selectGroupsOf, [user])) groups.push(text(row, 'group_name'));
      return groups;
    });
  }

  /**
   * Writes the conversation's bucket row and each participant's sync row, then the message
   * row. No batch: a group's participant rows can exceed the batch size limit, and a
   * multi-partition batch costs a batch-log round on top. The order makes the message row
   * the commit point instead: until it is written the index rows only point at a bucket or
   * an id range that reads find empty, so a failure half-way leaves no message that history
   * shows but sync misses. Every write is idempotent, so the caller may simply retry.
   */
  appendMessage(message: ChatMessage, participants: readonly string[]): Promise<void> {
    return this.guarded('appendMessage', async () => {
      checkMessageId(message.id);
      const bucket = bucketOfMessageId(message.id);
      // Cassandra keeps the cell with the higher write time, and on a tie the higher value.
      // Writing last_id at the message's own time (microseconds) keeps the greatest id
      // whatever order concurrent appends land in; sync relies on last_id never going back.
      const timestamp = types.Long.fromNumber(messageIdTime(message.id)).multiply(1000);
      await Promise.all([
        this.client.execute(CQL.insertConversationBucket, [message.conv, bucket], WRITE),
        mapLimited([...new Set(participants)], this.fanOut, (user) =>
          this.client.execute(CQL.upsertUserConversation, [user, message.conv, message.id], { ...WRITE, timestamp }),
        ),
      ]);
      const [toKind, toId] = 'group' in message.to ? ['group', message.to.group] : ['user', message.to.user];
      const params = [message.conv, bucket, message.id, message.from, toKind, toId, message.text, new Date(message.ts)];
      await this.client.execute(CQL.insertMessage, params, WRITE);
    });
  }

  /** One message by its conversation and id (its bucket follows from the id). */
  findMessage(conv: string, id: string): Promise<ChatMessage | undefined> {
    return this.guarded('findMessage', async () => {
      checkMessageId(id);
      const result = await this.client.execute(CQL.messageById, [conv, bucketOfMessageId(id), id], READ);
      const row = result.first() as types.Row | null;
      return row === null ? undefined : messageOf(row);
    });
  }

  /** Newest first, walking back through the conversation's non-empty buckets from `before`'s. */
  history(conv: string, options: { before?: string; limit: number }): Promise<HistoryPage> {
    return this.guarded('history', async () => {
      const { before, limit } = options;
      checkLimit(limit);
      if (before !== undefined) checkMessageId(before);
      // One more than asked for tells whether older messages exist.
      const wanted = limit + 1;
      const found: ChatMessage[] = [];
      const buckets =
        before === undefined
          ? this.allRows(CQL.bucketsNewestFirst, [conv])
          : this.allRows(CQL.bucketsNewestFirstUpTo, [conv, bucketOfMessageId(before)]);
      for await (const bucketRow of buckets) {
        const bucket = int(bucketRow, 'bucket');
        const missing = wanted - found.length;
        const result =
          before === undefined
            ? await this.client.execute(CQL.messagesNewestFirst, [conv, bucket, missing], READ)
            : await this.client.execute(CQL.messagesNewestFirstBefore, [conv, bucket, before, missing], READ);
        found.push(...result.rows.map(messageOf));
        if (found.length >= wanted) break;
      }
      return { messages: found.slice(0, limit), more: found.length > limit };
    });
  }

  /**
   * Oldest first across the user's conversations: each direct conversation whose last id
   * is past `since`, and each group the user is in (group messages write no row per member,
   * so every group is asked), contributes its first `limit + 1` newer messages, and the
   * merge keeps `limit`.
   */
  sync(user: string, options: { since?: string; limit: number }): Promise<SyncPage> {
    return this.guarded('sync', async () => {
      const { since, limit } = options;
      checkLimit(limit);
      if (since !== undefined) checkMessageId(since);
      const active: string[] = [];
      for await (const row of this.allRows(CQL.selectUserConversations, [user])) {
        if (since === undefined || text(row, 'last_id') > since) active.push(text(row, 'conv_id'));
      }
      for await (const row of this.allRows(CQL.selectGroupsOf, [user])) active.push(`g:${text(row, 'group_name')}`);
      const perConversation = await mapLimited(active, this.fanOut, (conv) => this.messagesAfter(conv, since, limit + 1));
      const merged = perConversation.flat().sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      const messages = merged.slice(0, limit);
      const last = messages.at(-1);
      return { messages, next: merged.length > limit && last !== undefined ? last.id : null };
    });
  }

  /** Writes the session's row in both mapping tables, each expiring after `ttlSeconds`. */
  putSession(session: SessionRecord, ttlSeconds: number): Promise<void> {
    return this.guarded('putSession', async () => {
      if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1) throw new RangeError(`session TTL ${ttlSeconds} s is not a whole number ≥ 1`);
      // Two plain writes rather than a batch: the heartbeat rewrites every session every few
      // seconds, and a row whose twin failed to write expires with its TTL anyway.
      await Promise.all([
        this.client.execute(CQL.insertUserSession, [session.user, session.node, session.session, ttlSeconds], WRITE),
        this.client.execute(CQL.insertNodeSession, [session.node, session.user, session.session, ttlSeconds], WRITE),
      ]);
    });
  }

  /** Deletes the session's row from both mapping tables. */
  deleteSession(session: SessionRecord): Promise<void> {
    return this.guarded('deleteSession', async () => {
      await Promise.all([
        this.client.execute(CQL.deleteUserSession, [session.user, session.node, session.session], WRITE),
        this.client.execute(CQL.deleteNodeSession, [session.node, session.user, session.session], WRITE),
      ]);
    });
  }

  /** The user's live sessions, by node then session. */
  sessionsOf(user: string): Promise<SessionRecord[]> {
    return this.guarded('sessionsOf', async () => {
      const sessions: SessionRecord[] = [];
      for await (const row of this.allRows(CQL.selectSessionsOf, [user])) {
        sessions.push({ user, node: text(row, 'node_id'), session: text(row, 'session_id') });
      }
      return sessions;
    });
  }

  /** The node's live sessions, by user then session. */
  sessionsOnNode(node: string): Promise<SessionRecord[]> {
    return this.guarded('sessionsOnNode', async () => {
      const sessions: SessionRecord[] = [];
      for await (const row of this.allRows(CQL.selectSessionsOnNode, [node])) {
        sessions.push({ user: text(row, 'user_id'), node, session: text(row, 'session_id') });
      }
      return sessions;
    });
  }

  /** Inserts or overwrites the node's registry row. */
  putNode(node: NodeRecord): Promise<void> {
    return this.guarded('putNode', async () => {
      const params = [node.id, node.address, new Date(node.startedAt), new Date(node.heartbeatAt), node.connections];
      await this.client.execute(CQL.upsertNode, params, WRITE);
    });
  }

  /** Removes the node's registry row. */
  deleteNode(id: string): Promise<void> {
    return this.guarded('deleteNode', async () => {
      await this.client.execute(CQL.deleteNode, [id], WRITE);
    });
  }

  /** Every registered node, by id. */
  nodes(): Promise<NodeRecord[]> {
    return this.guarded('nodes', async () => {
      const nodes: NodeRecord[] = [];
      for await (const row of this.allRows(CQL.selectNodes, [])) {
        nodes.push({
          id: text(row, 'id'),
          address: text(row, 'address'),
          startedAt: millis(row, 'started_at'),
          heartbeatAt: millis(row, 'heartbeat_at'),
          connections: int(row, 'connections'),
        });
      }
      return nodes.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    });
  }

  /** Whether a coordinator answers a local query within two seconds. */
  async isHealthy(): Promise<boolean> {
    try {
      const options = { prepare: true, isIdempotent: true, consistency: consistencies.localOne, readTimeout: 2_000 };
      await this.client.execute(CQL.health, [], options);
      return true;
    } catch {
      return false;
    }
  }

  /** Shuts the driver client down. */
  close(): Promise<void> {
    return this.guarded('close', () => this.client.shutdown());
  }

  /** Up to `wanted` messages of one conversation newer than `after` (all when unset), oldest first. */
  private async messagesAfter(conv: string, after: string | undefined, wanted: number): Promise<ChatMessage[]> {
    const found: ChatMessage[] = [];
    // Buckets are whole days since the epoch, so 0 is before every message.
    const firstBucket = after === undefined ? 0 : bucketOfMessageId(after);
    for await (const bucketRow of this.allRows(CQL.bucketsOldestFirstFrom, [conv, firstBucket])) {
      const bucket = int(bucketRow, 'bucket');
      const missing = wanted - found.length;
      const result =
        after === undefined
          ? await this.client.execute(CQL.messagesOldestFirst, [conv, bucket, missing], READ)
          : await this.client.execute(CQL.messagesOldestFirstAfter, [conv, bucket, after, missing], READ);
      found.push(...result.rows.map(messageOf));
      if (found.length >= wanted) break;
    }
    return found;
  }

  /** Every row of a read, fetching further pages only as the caller iterates. */
  private async *allRows(query: string, params: unknown[]): AsyncGenerator<types.Row> {
    const result = await this.client.execute(query, params, { ...READ, fetchSize: this.pageRows });
    yield* result;
  }

  /** Runs one store operation, turning every failure into a `ChatError`. */
  private async guarded<T>(operation: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      throw storeError(error, operation);
    }
  }
}

/** Runs `work` over `items` with at most `limit` calls in flight; results in input order. */
async function mapLimited<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  const queue = items.entries();
  let failed = false;
  const worker = async (): Promise<void> => {
    for (const [index, item] of queue) {
      if (failed) return;
      try {
        results[index] = await work(item);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

function checkMessageId(id: string): void {
  if (!isMessageId(id)) throw new ChatError('bad_request', `${JSON.stringify(id)} is not a message id`);
}

function checkLimit(limit: number): void {
  if (!Number.isInteger(limit) || limit < 1) throw new ChatError('bad_request', `limit ${limit} is not a whole number ≥ 1`);
}

function messageOf(row: types.Row): ChatMessage {
  const kind = text(row, 'to_kind');
  const toId = text(row, 'to_id');
  let to: Target;
  if (kind === 'group') to = { group: toId };
  else if (kind === 'user') to = { user: toId };
  else throw new Error(`message ${text(row, 'id')} has to_kind ${JSON.stringify(kind)}`);
  return { id: text(row, 'id'), conv: text(row, 'conv_id'), from: text(row, 'from_user'), to, text: text(row, 'text'), ts: millis(row, 'ts') };
}

function text(row: types.Row, column: string): string {
  const value: unknown = row.get(column);
  if (typeof value !== 'string') throw new Error(`column ${column} is ${String(value)}, not text`);
  return value;
}

function int(row: types.Row, column: string): number {
  const value: unknown = row.get(column);
  if (typeof value !== 'number') throw new Error(`column ${column} is ${String(value)}, not an int`);
  return value;
}

function millis(row: types.Row, column: string): number {
  const value: unknown = row.get(column);
  if (!(value instanceof Date)) throw new Error(`column ${column} is ${String(value)}, not a timestamp`);
  return value.getTime();
}
