import { types, type QueryOptions } from 'cassandra-driver';

const { consistencies } = types;

// Every statement is prepared: the coordinator parses it once, and the driver routes it to
// a replica of the partition it names (token awareness needs the prepared metadata).
export const READ: QueryOptions = { prepare: true, consistency: consistencies.localQuorum, isIdempotent: true };
// Every write below sets whole rows to values fixed by the call, so a retry after a timeout
// cannot change the result: the driver may retry them and speculate.
export const WRITE: QueryOptions = { prepare: true, consistency: consistencies.localQuorum, isIdempotent: true };
// A retried `IF NOT EXISTS` whose first attempt was applied answers "not applied": never retry it.
export const LWT: QueryOptions = {
  prepare: true,
  consistency: consistencies.localQuorum,
  serialConsistency: consistencies.localSerial,
  isIdempotent: false,
};

const MESSAGE_COLUMNS = 'conv_id, id, from_user, to_kind, to_id, text, sealed, ts';
const MESSAGES_OF_BUCKET = `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE conv_id = ? AND bucket = ?`;

export const CQL = {
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
  // Encrypted at rest: `sealed` instead of `text`, which stays unset (no null, no tombstone).
  insertSealedMessage:
    'INSERT INTO messages (conv_id, bucket, id, from_user, to_kind, to_id, sealed, ts) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
  // The re-encryption pass: the whole table, a page at a time, and one row's text replaced by its sealed form.
  scanMessageTexts: 'SELECT conv_id, bucket, id, text, sealed FROM messages',
  resealMessage: 'UPDATE messages SET sealed = ? WHERE conv_id = ? AND bucket = ? AND id = ?',
  sealPlaintextMessage: 'UPDATE messages SET sealed = ?, text = null WHERE conv_id = ? AND bucket = ? AND id = ?',
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
  deleteNodeSessions: 'DELETE FROM node_sessions WHERE node_id = ?',
  selectSessionsOf: 'SELECT node_id, session_id FROM user_sessions WHERE user_id = ?',
  selectSessionsOnNode: 'SELECT user_id, session_id FROM node_sessions WHERE node_id = ?',

  upsertNode: 'INSERT INTO nodes (id, address, started_at, heartbeat_at, connections) VALUES (?, ?, ?, ?, ?)',
  deleteNode: 'DELETE FROM nodes WHERE id = ?',
  selectNodes: 'SELECT id, address, started_at, heartbeat_at, connections FROM nodes',

  health: 'SELECT release_version FROM system.local',
} as const;
