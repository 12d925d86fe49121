import type { SessionRecord } from '../../store/store.js';
import type { RouteCache } from '../bus.js';

/** The route cache in process, with the Redis one's behaviour. */
export class MemoryRouteCache implements RouteCache {
  private readonly sessionsByUser = new Map<string, Map<string, SessionRecord>>();
  private readonly nodesByGroup = new Map<string, Set<string>>();

  addSession(session: SessionRecord): Promise<boolean> {
    const sessions = this.sessionsByUser.get(session.user) ?? new Map<string, SessionRecord>();
    this.sessionsByUser.set(session.user, sessions);
    const wasOffline = sessions.size === 0;
    sessions.set(`${session.node}/${session.session}`, { ...session });
    return Promise.resolve(wasOffline);
  }

  removeSession(session: SessionRecord): Promise<boolean> {
    const sessions = this.sessionsByUser.get(session.user);
    if (sessions?.delete(`${session.node}/${session.session}`) !== true) return Promise.resolve(false);
    if (sessions.size > 0) return Promise.resolve(false);
    this.sessionsByUser.delete(session.user);
    return Promise.resolve(true);
  }

  sessionsOf(user: string): Promise<SessionRecord[]> {
    return Promise.resolve([...(this.sessionsByUser.get(user)?.values() ?? [])].map((s) => ({ ...s })));
  }

  onlineStatus(users: readonly string[]): Promise<Record<string, boolean>> {
    return Promise.resolve(Object.fromEntries(users.map((user) => [user, (this.sessionsByUser.get(user)?.size ?? 0) > 0])));
  }

  addGroupNode(group: string, node: string): Promise<void> {
    const nodes = this.nodesByGroup.get(group) ?? new Set<string>();
    this.nodesByGroup.set(group, nodes);
    nodes.add(node);
    return Promise.resolve();
  }

  removeGroupNode(group: string, node: string): Promise<void> {
    this.nodesByGroup.get(group)?.delete(node);
    return Promise.resolve();
  }

  groupNodes(group: string): Promise<string[]> {
    return Promise.resolve([...(this.nodesByGroup.get(group) ?? [])].sort());
  }

  async removeNode(node: string, wentOffline: (users: string[]) => Promise<void>): Promise<void> {
    const offline: string[] = [];
    for (const [user, sessions] of this.sessionsByUser) {
      let removed = false;
      for (const [key, session] of sessions) {
        if (session.node === node) {
          sessions.delete(key);
          removed = true;
        }
      }
      if (removed && sessions.size === 0) {
        this.sessionsByUser.delete(user);
        offline.push(user);
      }
    }
    for (const nodes of this.nodesByGroup.values()) nodes.delete(node);
    offline.sort();
    if (offline.length > 0) await wentOffline(offline);
  }
}
