import type { Redis } from 'ioredis';
import type { SessionRecord } from '../../store/store.js';
import type { RouteCache } from '../bus.js';
import { stringsOf } from './codec.js';
import type { BusKeys } from './keys.js';
import { reach, resultsOf } from './replies.js';
import { ADD_SESSION, REMOVE_NODE, REMOVE_SESSION } from './scripts.js';

/** Which node hosts which user's sockets, and which nodes host each group's online members. */
export class RedisRouteCache implements RouteCache {
  constructor(
    private readonly redis: Redis,
    private readonly keys: BusKeys,
  ) {}

  /** Records a socket; true when it is the user's first anywhere. */
  async addSession(session: SessionRecord): Promise<boolean> {
    const first = await reach('record a session', () =>
      this.redis.eval(ADD_SESSION, 2, ...this.sessionScriptArgs(session)),
    );
    return first === 1;
  }

  /** Removes a socket; true when it was the user's last anywhere. */
  async removeSession(session: SessionRecord): Promise<boolean> {
    const last = await reach('remove a session', () =>
      this.redis.eval(REMOVE_SESSION, 2, ...this.sessionScriptArgs(session)),
    );
    return last === 1;
  }

  private sessionScriptArgs(session: SessionRecord): string[] {
    return [
      this.keys.sessions(session.user),
      this.keys.nodeSessions(session.node),
      session.session,
      session.node,
      JSON.stringify([session.user, session.session]),
    ];
  }

  /** The user's sockets as the cache knows them. */
  async sessionsOf(user: string): Promise<SessionRecord[]> {
    const sessions = await reach('read sessions', () => this.redis.hgetall(this.keys.sessions(user)));
    return Object.entries(sessions).map(([session, node]) => ({ user, node, session }));
  }

  /** Whether each user has a socket anywhere, in one round trip. */
  async onlineStatus(users: readonly string[]): Promise<Record<string, boolean>> {
    if (users.length === 0) return {};
    const pipeline = this.redis.pipeline();
    for (const user of users) pipeline.exists(this.keys.sessions(user));
    const counts = await reach('read online status', async () => resultsOf(await pipeline.exec()));
    return Object.fromEntries(users.map((user, index) => [user, counts[index] === 1]));
  }

  /** Notes that `node` hosts an online member of `group`. */
  async addGroupNode(group: string, node: string): Promise<void> {
    await reach('record a group node', async () =>
      resultsOf(
        await this.redis.multi().sadd(this.keys.groupNodes(group), node).sadd(this.keys.nodeGroups(node), group).exec(),
      ),
    );
  }

  /** Notes that `node` hosts no online member of `group` any more. */
  async removeGroupNode(group: string, node: string): Promise<void> {
    await reach('remove a group node', async () =>
      resultsOf(
        await this.redis.multi().srem(this.keys.groupNodes(group), node).srem(this.keys.nodeGroups(node), group).exec(),
      ),
    );
  }

  /** The nodes hosting an online member of `group`. */
  groupNodes(group: string): Promise<string[]> {
    return reach('read group nodes', () => this.redis.smembers(this.keys.groupNodes(group)));
  }

  /** Forgets a dead node's sessions and group entries; resolves with the users left with no socket. */
  async removeNode(node: string): Promise<string[]> {
    const offline = await reach('remove a node', () =>
      this.redis.eval(REMOVE_NODE, 2, this.keys.nodeSessions(node), this.keys.nodeGroups(node), this.keys.prefix, node),
    );
    return stringsOf(offline);
  }
}
