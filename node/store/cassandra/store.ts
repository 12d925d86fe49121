import { types, type ArrayOrObject, type Client, type QueryOptions } from 'cassandra-driver';
import pLimit, { type LimitFunction } from 'p-limit';
import type { ChatMessage, GroupInfo } from '../../protocol/frames.js';
import { messageIdTime } from '../../protocol/ids.js';
import { bucketOfMessageId } from '../buckets.js';
import type { HistoryPage, NodeRecord, SessionRecord, Store, SyncPage } from '../store.js';
import type { TextSealer } from '../../at-rest/text-sealer.js';
import { cassandraClient, type CassandraConnection } from './client.js';
import { storeError } from './errors.js';
import { mapLimited } from './map-limited.js';
import { WrittenBuckets } from './written-buckets.js';
import { CQL, LWT, READ, WRITE } from './queries.js';
import { checkLimit, checkMessageId, int, messageOf, millis, text } from './rows.js';

export interface CassandraStoreOptions {
  /** How many requests one call keeps in flight when it fans out over participants or conversations. */
  fanOut?: number;
  /** Rows fetched per page when reading a whole partition (members, groups, sessions, conversations). */
  pageRows?: number;
  /** Encrypts message texts at rest; without it texts are stored as they are (sealed ones cannot be read). */
  sealer?: TextSealer;
}

/** Participants whose sync rows go in one batch with the bucket row (a direct message has two). */
const BATCHED_SYNC_ROWS = 8;
/**
 * Requests in flight to Cassandra at most, per node; the rest wait their turn in order. The
 * driver has no queue: past its per-connection limit it fails a request outright, and below
 * it hands Cassandra all it gets. A reconnect storm of 10,000 sockets, each writing and
 * deleting session rows, put tens of thousands on one Cassandra at once: they timed out after
 * 12 s (and were retried) while its threads took the CPU the bus and the nodes share with it.
 * Far above what steady traffic keeps there (2,000 messages a second at 15 ms is 60).
 */
const REQUESTS_IN_FLIGHT = 1_024;
/** Conversation buckets remembered as written: each day's active conversations of a busy node, a few MB at most. */
const REMEMBERED_BUCKETS = 50_000;

/** The `Store` on Cassandra (tables in schema.ts). */
/** A conversation sync reads, with its greatest message id where a sync row records it (direct conversations). */
interface ConversationPosition {
  conv: string;
  lastId?: string;
}

export class CassandraStore implements Store {
  private readonly fanOut: number;
  private readonly pageRows: number;
  private readonly sealer: TextSealer | undefined;
  private readonly messageOf = (row: types.Row): ChatMessage => messageOf(row, this.sealer);
  private readonly writtenBuckets = new WrittenBuckets(REMEMBERED_BUCKETS);
  private readonly inTurn: LimitFunction = pLimit(REQUESTS_IN_FLIGHT);

  /** Uses a client that is connected (or will connect on first use) with the store's keyspace; `close` shuts it down. */
  constructor(
    private readonly client: Client,
    options: CassandraStoreOptions = {},
  ) {
    this.fanOut = options.fanOut ?? 32;
    this.pageRows = options.pageRows ?? 1_000;
    this.sealer = options.sealer;
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
      const result = await this.execute(CQL.insertGroup, params, LWT);
      return result.wasApplied();
    });
  }

  /** The group's record, or undefined when no such group exists. */
  getGroup(name: string): Promise<GroupInfo | undefined> {
    return this.guarded('getGroup', async () => {
      const row = (await this.execute(CQL.selectGroup, [name], READ)).rows[0];
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
      await this.batch(queries, { ...WRITE, logged: true });
    });
  }

  /** Removes both membership directions in one logged batch. */
  removeMember(group: string, user: string): Promise<void> {
    return this.guarded('removeMember', async () => {
      const queries = [
        { query: CQL.deleteGroupMember, params: [group, user] },
        { query: CQL.deleteUserGroup, params: [user, group] },
      ];
      await this.batch(queries, { ...WRITE, logged: true });
    });
  }

  /** Whether the group lists the user. */
  isMember(group: string, user: string): Promise<boolean> {
    return this.guarded('isMember', async () => {
      const result = await this.execute(CQL.selectMember, [group, user], READ);
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
    return this.guarded('groupsOf', () => this.groupNames(user));
  }

  /**
   * Writes the conversation's bucket row and each participant's sync row, then the message
   * row. The order makes the message row the commit point: until it is written the index
   * rows only point at a bucket or an id range that reads find empty, so a failure half-way
   * leaves no message that history shows but sync misses. Every write is idempotent, so the
   * caller may simply retry.
   */
  appendMessage(message: ChatMessage, participants: readonly string[]): Promise<void> {
    return this.guarded('appendMessage', async () => {
      checkMessageId(message.id);
      const bucket = bucketOfMessageId(message.id);
      await this.writeIndexRows(message, bucket, [...new Set(participants)]);
      const [toKind, toId] = 'group' in message.to ? ['group', message.to.group] : ['user', message.to.user];
      const { sealer } = this;
      const body = sealer === undefined ? message.text : sealer.seal(message.text, message.conv, message.id);
      const params = [message.conv, bucket, message.id, message.from, toKind, toId, body, new Date(message.ts)];
      await this.execute(sealer === undefined ? CQL.insertMessage : CQL.insertSealedMessage, params, WRITE);
    });
  }

  /**
   * The rows that lead reads to a message: its conversation's bucket row (once per bucket:
   * this store remembers the buckets it wrote) and each participant's sync row.
   *
   * A direct message's few rows go in one unlogged batch, one request instead of three: no
   * batch log (each row is idempotent and the message row is written only after them all),
   * and too few partitions for the coordinator's fan-out to matter. A long participant list
   * could pass the batch size limit, so it is written a row per request as before.
   */
  private async writeIndexRows(message: ChatMessage, bucket: number, participants: readonly string[]): Promise<void> {
    const bucketWritten = this.writtenBuckets.has(message.conv, bucket);
    // Cassandra keeps the cell with the higher write time, and on a tie the higher value.
    // Writing last_id at the message's own time (microseconds) keeps the greatest id
    // whatever order concurrent appends land in; sync relies on last_id never going back.
    const timestamp = types.Long.fromNumber(messageIdTime(message.id) * 1000);
    const syncRow = (user: string): { query: string; params: unknown[] } => ({ query: CQL.upsertUserConversation, params: [user, message.conv, message.id] });
    const bucketRow = { query: CQL.insertConversationBucket, params: [message.conv, bucket] };
    if (participants.length <= BATCHED_SYNC_ROWS) {
      const rows = [...participants.map(syncRow), ...(bucketWritten ? [] : [bucketRow])];
      // The batch's write time is the message's for the bucket row too: that row holds no value, only its existence.
      if (rows.length > 1) await this.batch(rows, { ...WRITE, logged: false, timestamp });
      else if (rows[0] !== undefined) await this.execute(rows[0].query, rows[0].params, { ...WRITE, timestamp });
    } else {
      await Promise.all([
        bucketWritten ? undefined : this.execute(bucketRow.query, bucketRow.params, WRITE),
        mapLimited(participants, this.fanOut, (user) => this.execute(CQL.upsertUserConversation, syncRow(user).params, { ...WRITE, timestamp })),
      ]);
    }
    if (!bucketWritten) this.writtenBuckets.add(message.conv, bucket);
  }

  /** One message by its conversation and id (its bucket follows from the id). */
  findMessage(conv: string, id: string): Promise<ChatMessage | undefined> {
    return this.guarded('findMessage', async () => {
      checkMessageId(id);
      const result = await this.execute(CQL.messageById, [conv, bucketOfMessageId(id), id], READ);
      const row = result.first() as types.Row | null;
      return row === null ? undefined : this.messageOf(row);
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
            ? await this.execute(CQL.messagesNewestFirst, [conv, bucket, missing], READ)
            : await this.execute(CQL.messagesNewestFirstBefore, [conv, bucket, before, missing], READ);
        found.push(...result.rows.map(this.messageOf));
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
      // Both lists at once: a reconnecting client's sync waits one round trip for them, not two.
      const [direct, groups] = await Promise.all([this.userConversations(user), this.groupNames(user)]);
      const active: ConversationPosition[] = [
        ...direct.filter(({ lastId }) => since === undefined || lastId > since),
        ...groups.map((group) => ({ conv: `g:${group}` })),
      ];
      const perConversation = await mapLimited(active, this.fanOut, ({ conv, lastId }) => this.messagesAfter(conv, since, limit + 1, lastId));
      const merged = perConversation.flat().sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      const messages = merged.slice(0, limit);
      const last = messages.at(-1);
      return { messages, next: merged.length > limit && last !== undefined ? last.id : null };
    });
  }

  /**
   * Writes the session's row in both mapping tables, each expiring after `ttlSeconds`: one
   * unlogged batch, one request for what every socket opening and every heartbeat refresh
   * writes. No batch log: the heartbeat rewrites every session every few beats, and a row
   * whose twin failed to write expires with its TTL anyway.
   */
  putSession(session: SessionRecord, ttlSeconds: number): Promise<void> {
    return this.guarded('putSession', async () => {
      if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1) throw new RangeError(`session TTL ${ttlSeconds} s is not a whole number ≥ 1`);
      const rows = [
        { query: CQL.insertUserSession, params: [session.user, session.node, session.session, ttlSeconds] },
        { query: CQL.insertNodeSession, params: [session.node, session.user, session.session, ttlSeconds] },
      ];
      await this.batch(rows, { ...WRITE, logged: false });
    });
  }

  /** Deletes the session's row from both mapping tables (one unlogged batch, as putSession). */
  deleteSession(session: SessionRecord): Promise<void> {
    return this.guarded('deleteSession', async () => {
      const rows = [
        { query: CQL.deleteUserSession, params: [session.user, session.node, session.session] },
        { query: CQL.deleteNodeSession, params: [session.node, session.user, session.session] },
      ];
      await this.batch(rows, { ...WRITE, logged: false });
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

  /**
   * Deletes a node's rows: each user's row, `fanOut` at a time, then the node's partition in
   * one statement. The node's partition goes last, so a failure part-way leaves the rows
   * still to delete findable by the next attempt. Its delete carries the time of the read:
   * a row written after the read (a socket registering late) is newer than the delete and
   * outlives it, still findable.
   */
  deleteSessionsOnNode(node: string): Promise<void> {
    return this.guarded('deleteSessionsOnNode', async () => {
      const readAt = types.Long.fromNumber(Date.now() * 1000);
      const sessions = await this.sessionsOnNode(node);
      await mapLimited(sessions, this.fanOut, (session) => this.execute(CQL.deleteUserSession, [session.user, node, session.session], WRITE));
      await this.execute(CQL.deleteNodeSessions, [node], { ...WRITE, timestamp: readAt });
    });
  }

  /** Inserts or overwrites the node's registry row. */
  putNode(node: NodeRecord): Promise<void> {
    return this.guarded('putNode', async () => {
      const params = [node.id, node.address, new Date(node.startedAt), new Date(node.heartbeatAt), node.connections];
      await this.execute(CQL.upsertNode, params, WRITE);
    });
  }

  /** Removes the node's registry row. */
  deleteNode(id: string): Promise<void> {
    return this.guarded('deleteNode', async () => {
      await this.execute(CQL.deleteNode, [id], WRITE);
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

  /**
   * Whether a coordinator answers a local query within two seconds. Not queued behind the
   * requests waiting their turn: a node busy with a storm's writes still has a Cassandra
   * that answers.
   */
  async isHealthy(): Promise<boolean> {
    try {
      const options = { prepare: true, isIdempotent: true, consistency: types.consistencies.localOne, readTimeout: 2_000 };
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

  /** The user's groups (groupsOf without its guard, for sync to read beside the conversations). */
  private async groupNames(user: string): Promise<string[]> {
    const groups: string[] = [];
    for await (const row of this.allRows(CQL.selectGroupsOf, [user])) groups.push(text(row, 'group_name'));
    return groups;
  }

  /** The user's direct conversations, each with the greatest message id written to it. */
  private async userConversations(user: string): Promise<Required<ConversationPosition>[]> {
    const conversations: Required<ConversationPosition>[] = [];
    for await (const row of this.allRows(CQL.selectUserConversations, [user])) conversations.push({ conv: text(row, 'conv_id'), lastId: text(row, 'last_id') });
    return conversations;
  }

  /**
   * Up to `wanted` messages of one conversation newer than `after` (all when unset), oldest
   * first. `lastId`, when known (a direct conversation's sync row), is at or past every stored
   * message of it, so when it falls in `after`'s bucket the new messages are all in that one
   * bucket and the bucket index need not be read: the common reconnect reads one partition.
   */
  private async messagesAfter(conv: string, after: string | undefined, wanted: number, lastId?: string): Promise<ChatMessage[]> {
    // Buckets are whole days since the epoch, so 0 is before every message.
    const firstBucket = after === undefined ? 0 : bucketOfMessageId(after);
    if (after !== undefined && lastId !== undefined && bucketOfMessageId(lastId) === firstBucket) {
      const result = await this.execute(CQL.messagesOldestFirstAfter, [conv, firstBucket, after, wanted], READ);
      return result.rows.map(this.messageOf);
    }
    const found: ChatMessage[] = [];
    for await (const bucketRow of this.allRows(CQL.bucketsOldestFirstFrom, [conv, firstBucket])) {
      const bucket = int(bucketRow, 'bucket');
      const missing = wanted - found.length;
      const result =
        after === undefined
          ? await this.execute(CQL.messagesOldestFirst, [conv, bucket, missing], READ)
          : await this.execute(CQL.messagesOldestFirstAfter, [conv, bucket, after, missing], READ);
      found.push(...result.rows.map(this.messageOf));
      if (found.length >= wanted) break;
    }
    return found;
  }

  /** Every row of a read, fetching further pages only as the caller iterates. */
  private async *allRows(query: string, params: unknown[]): AsyncGenerator<types.Row> {
    const result = await this.execute(query, params, { ...READ, fetchSize: this.pageRows });
    yield* result;
  }

  /** One statement, in its turn. */
  private execute(query: string, params: ArrayOrObject, options: QueryOptions): Promise<types.ResultSet> {
    return this.inTurn(() => this.client.execute(query, params, options));
  }

  /** One batch, in its turn. */
  private batch(queries: { query: string; params: ArrayOrObject }[], options: QueryOptions): Promise<types.ResultSet> {
    return this.inTurn(() => this.client.batch(queries, options));
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
