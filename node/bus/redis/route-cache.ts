import type { SessionRecord } from '../../store/store.js';
import type { RouteCache } from '../bus.js';
import type { RedisClient } from './connection.js';
import type { BusKeys } from './keys.js';
import { reach } from './replies.js';
import { ADD_SESSION, REMOVE_SESSION } from './scripts.js';

/** How many sessions of a dead node are removed at once (each is one small script). */
const REMOVAL_BATCH = 1_000;

/**
 * Which node hosts which user's sockets, and which nodes host each group's online members.
 *
 * Every command touches one key, so the cache runs on a Redis Cluster, where a user's hash
 * and a node's index live on different masters. Where two keys change together, the
 * node's index is written first and cleaned last: a failure between the two leaves an
 * index entry that points at nothing (harmless: removeNode checks before it deletes),
 * never a route that the node's clean-up cannot find.
 */
export class RedisRouteCache implements RouteCache {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: BusKeys,
  ) {}

  /** Records a socket; true when it is the user's first anywhere. */
  async addSession(session: SessionRecord): Promise<boolean> {
    return reach('record a session', async () => {
      await this.redis.sadd(this.keys.nodeSessions(session.node), indexMember(session.user, session.session));
      return (await this.redis.eval(ADD_SESSION, 1, this.keys.sessions(session.user), session.session, session.node)) === 1;
    });
  }

  /** Removes a socket; true when it was the user's last anywhere. */
  async removeSession(session: SessionRecord): Promise<boolean> {
    return reach('remove a session', async () => {
      const last = await this.removeRoute(session.user, session.session, session.node);
      await this.redis.srem(this.keys.nodeSessions(session.node), indexMember(session.user, session.session));
      return last;
    });
  }

  /** Deletes the route of `session` if it still points at `node`; true when the user has no socket left. */
  private async removeRoute(user: string, session: string, node: string): Promise<boolean> {
    return (await this.redis.eval(REMOVE_SESSION, 1, this.keys.sessions(user), session, node)) === 1;
  }

  /** The user's sockets as the cache knows them. */
  async sessionsOf(user: string): Promise<SessionRecord[]> {
    const sessions = await reach('read sessions', () => this.redis.hgetall(this.keys.sessions(user)));
    return Object.entries(sessions).map(([session, node]) => ({ user, node, session }));
  }

  /** Whether each user has a socket anywhere (one round trip per server: the connection pipelines them). */
  async onlineStatus(users: readonly string[]): Promise<Record<string, boolean>> {
    if (users.length === 0) return {};
    const counts = await reach('read online status', () => Promise.all(users.map((user) => this.redis.exists(this.keys.sessions(user)))));
    return Object.fromEntries(users.map((user, index) => [user, counts[index] === 1]));
  }

  /** Notes that `node` hosts an online member of `group`. */
  async addGroupNode(group: string, node: string): Promise<void> {
    await reach('record a group node', async () => {
      await this.redis.sadd(this.keys.nodeGroups(node), group);
      await this.redis.sadd(this.keys.groupNodes(group), node);
    });
  }

  /** Notes that `node` hosts no online member of `group` any more. */
  async removeGroupNode(group: string, node: string): Promise<void> {
    await reach('remove a group node', async () => {
      await this.redis.srem(this.keys.groupNodes(group), node);
      await this.redis.srem(this.keys.nodeGroups(node), group);
    });
  }

  /** The nodes hosting an online member of `group`. */
  groupNodes(group: string): Promise<string[]> {
    return reach('read group nodes', () => this.redis.smembers(this.keys.groupNodes(group)));
  }

  /**
   * Forgets the sessions and group entries of a node that left or died, telling `wentOffline`
   * of the users left with no socket batch by batch. Safe to run again after a failure
   * part-way: the indexes go last.
   */
  async removeNode(node: string, wentOffline: (users: string[]) => Promise<void>): Promise<void> {
    await reach('remove a node', async () => {
      const records = (await this.redis.smembers(this.keys.nodeSessions(node))).flatMap(parseIndexMember);
      for (let start = 0; start < records.length; start += REMOVAL_BATCH) {
        const batch = records.slice(start, start + REMOVAL_BATCH);
        const last = await Promise.all(batch.map(([user, session]) => this.removeRoute(user, session, node)));
        // A user with two sockets on the node is gone once, when the second goes.
        const offline = batch.flatMap(([user], index) => (last[index] === true ? [user] : []));
        if (offline.length > 0) await wentOffline(offline);
      }
      const groups = await this.redis.smembers(this.keys.nodeGroups(node));
      await Promise.all(groups.map((group) => this.redis.srem(this.keys.groupNodes(group), node)));
      await Promise.all([this.redis.del(this.keys.nodeSessions(node)), this.redis.del(this.keys.nodeGroups(node))]);
    });
  }
}

/** A node's index entry for one socket: `["<user>","<session>"]`. */
function indexMember(user: string, session: string): string {
  return JSON.stringify([user, session]);
}

function parseIndexMember(member: string): [string, string][] {
  try {
    const value: unknown = JSON.parse(member);
    if (Array.isArray(value) && value.length === 2 && typeof value[0] === 'string' && typeof value[1] === 'string') return [[value[0], value[1]]];
  } catch {
    // Not an entry this code wrote: skipped, and deleted with the index.
  }
  return [];
}
