import { describe, expect, it } from 'vitest';
import { range, unique, useBus, type OpenBus } from './harness.js';

/** The route cache port of the Bus contract. */
export function describeRouteCacheContract(name: string, open: () => Promise<OpenBus>): void {
  describe(`${name}: route cache`, () => {
    const h = useBus(open);
    /** Removes the node; resolves with the users its callback was told went offline, sorted. */
    const removeNode = async (node: string): Promise<string[]> => {
      const told: string[] = [];
      await h.bus.routes.removeNode(node, (users) => {
        told.push(...users);
        return Promise.resolve();
      });
      return told.sort();
    };
    it('says when a user gets a first socket and loses the last one, across nodes', async () => {
      const user = unique('user');
      const [nodeA, nodeB] = [unique('node-a'), unique('node-b')];
      expect(await h.bus.routes.addSession({ user, node: nodeA, session: 's1' })).toBe(true);
      expect(await h.bus.routes.addSession({ user, node: nodeA, session: 's2' })).toBe(false);
      expect(await h.bus.routes.addSession({ user, node: nodeB, session: 's3' })).toBe(false);

      expect(await h.bus.routes.removeSession({ user, node: nodeA, session: 's1' })).toBe(false);
      expect(await h.bus.routes.removeSession({ user, node: nodeB, session: 's3' })).toBe(false);
      expect(await h.bus.routes.removeSession({ user, node: nodeA, session: 's2' })).toBe(true);

      expect(await h.bus.routes.addSession({ user, node: nodeB, session: 's4' })).toBe(true);
    });

    it('counts a session recorded twice once', async () => {
      const user = unique('user');
      const node = unique('node');
      expect(await h.bus.routes.addSession({ user, node, session: 's1' })).toBe(true);
      expect(await h.bus.routes.addSession({ user, node, session: 's1' })).toBe(false);
      expect(await h.bus.routes.sessionsOf(user)).toEqual([{ user, node, session: 's1' }]);
      expect(await h.bus.routes.removeSession({ user, node, session: 's1' })).toBe(true);
    });

    it('removing a session it does not know reports no one going offline', async () => {
      const user = unique('user');
      const node = unique('node');
      expect(await h.bus.routes.removeSession({ user, node, session: 'never-added' })).toBe(false);
      await h.bus.routes.addSession({ user, node, session: 's1' });
      expect(await h.bus.routes.removeSession({ user, node, session: 's1' })).toBe(true);
      expect(await h.bus.routes.removeSession({ user, node, session: 's1' })).toBe(false);
    });

    it('decides first and last sessions atomically under concurrent calls', async () => {
      const user = unique('user');
      const node = unique('node');
      const sessions = range(1, 20).map((n) => ({ user, node, session: `s${n}` }));
      const firsts = await Promise.all(sessions.map((session) => h.bus.routes.addSession(session)));
      expect(firsts.filter(Boolean)).toHaveLength(1);
      const lasts = await Promise.all(sessions.map((session) => h.bus.routes.removeSession(session)));
      expect(lasts.filter(Boolean)).toHaveLength(1);
    });

    it('lists a user’s sessions on every node', async () => {
      const user = unique('user');
      const [nodeA, nodeB] = [unique('node-a'), unique('node-b')];
      expect(await h.bus.routes.sessionsOf(user)).toEqual([]);
      await h.bus.routes.addSession({ user, node: nodeA, session: 's1' });
      await h.bus.routes.addSession({ user, node: nodeB, session: 's2' });
      await h.bus.routes.addSession({ user: unique('other'), node: nodeA, session: 's3' });
      const sessions = await h.bus.routes.sessionsOf(user);
      expect(sessions.sort((a, b) => a.session.localeCompare(b.session))).toEqual([
        { user, node: nodeA, session: 's1' },
        { user, node: nodeB, session: 's2' },
      ]);
      await h.bus.routes.removeSession({ user, node: nodeA, session: 's1' });
      expect(await h.bus.routes.sessionsOf(user)).toEqual([{ user, node: nodeB, session: 's2' }]);
    });

    it('tells which of many users are online', async () => {
      const [online, alsoOnline, offline, gone] = [unique('on'), unique('on2'), unique('off'), unique('gone')];
      const node = unique('node');
      await h.bus.routes.addSession({ user: online, node, session: 's1' });
      await h.bus.routes.addSession({ user: alsoOnline, node, session: 's2' });
      await h.bus.routes.addSession({ user: gone, node, session: 's3' });
      await h.bus.routes.removeSession({ user: gone, node, session: 's3' });
      expect(await h.bus.routes.onlineStatus([online, offline, alsoOnline, gone])).toEqual({
        [online]: true,
        [offline]: false,
        [alsoOnline]: true,
        [gone]: false,
      });
      expect(await h.bus.routes.onlineStatus([])).toEqual({});
    });

    it('keeps the set of nodes hosting members of each group', async () => {
      const [group, otherGroup] = [unique('group'), unique('group')];
      const [nodeA, nodeB] = [unique('node-a'), unique('node-b')];
      expect(await h.bus.routes.groupNodes(group)).toEqual([]);
      await h.bus.routes.addGroupNode(group, nodeA);
      await h.bus.routes.addGroupNode(group, nodeB);
      await h.bus.routes.addGroupNode(group, nodeA);
      await h.bus.routes.addGroupNode(otherGroup, nodeB);
      expect((await h.bus.routes.groupNodes(group)).sort()).toEqual([nodeA, nodeB].sort());
      await h.bus.routes.removeGroupNode(group, nodeA);
      expect(await h.bus.routes.groupNodes(group)).toEqual([nodeB]);
      expect(await h.bus.routes.groupNodes(otherGroup)).toEqual([nodeB]);
      await h.bus.routes.removeGroupNode(group, nodeB);
      expect(await h.bus.routes.groupNodes(group)).toEqual([]);
    });

    it('forgets a dead node: its sessions and groups go, and the users left with no socket are named', async () => {
      const [dead, live] = [unique('dead'), unique('live')];
      const [onlyDead, both, onlyLive, twiceDead] = [unique('u1'), unique('u2'), unique('u3'), unique('u4')];
      const [shared, deadOnly] = [unique('group'), unique('group')];
      await h.bus.routes.addSession({ user: onlyDead, node: dead, session: 'a' });
      await h.bus.routes.addSession({ user: both, node: dead, session: 'b' });
      await h.bus.routes.addSession({ user: both, node: live, session: 'c' });
      await h.bus.routes.addSession({ user: onlyLive, node: live, session: 'd' });
      await h.bus.routes.addSession({ user: twiceDead, node: dead, session: 'e' });
      await h.bus.routes.addSession({ user: twiceDead, node: dead, session: 'f' });
      await h.bus.routes.addGroupNode(shared, dead);
      await h.bus.routes.addGroupNode(shared, live);
      await h.bus.routes.addGroupNode(deadOnly, dead);

      expect(await removeNode(dead)).toEqual([onlyDead, twiceDead].sort());

      expect(await h.bus.routes.sessionsOf(onlyDead)).toEqual([]);
      expect(await h.bus.routes.sessionsOf(twiceDead)).toEqual([]);
      expect(await h.bus.routes.sessionsOf(both)).toEqual([{ user: both, node: live, session: 'c' }]);
      expect(await h.bus.routes.sessionsOf(onlyLive)).toEqual([{ user: onlyLive, node: live, session: 'd' }]);
      expect(await h.bus.routes.onlineStatus([onlyDead, both, onlyLive, twiceDead])).toEqual({
        [onlyDead]: false,
        [both]: true,
        [onlyLive]: true,
        [twiceDead]: false,
      });
      expect(await h.bus.routes.groupNodes(shared)).toEqual([live]);
      expect(await h.bus.routes.groupNodes(deadOnly)).toEqual([]);

      expect(await removeNode(dead)).toEqual([]);
      expect(await h.bus.routes.removeSession({ user: both, node: live, session: 'c' })).toBe(true);
    });

    it('forgetting a node that hosted nothing names no one', async () => {
      expect(await removeNode(unique('empty'))).toEqual([]);
    });

    it('a node that comes back after being forgotten starts from nothing', async () => {
      const node = unique('node');
      const user = unique('user');
      const group = unique('group');
      await h.bus.routes.addSession({ user, node, session: 's1' });
      await h.bus.routes.addGroupNode(group, node);
      expect(await removeNode(node)).toEqual([user]);
      expect(await h.bus.routes.addSession({ user, node, session: 's2' })).toBe(true);
      await h.bus.routes.addGroupNode(group, node);
      expect(await h.bus.routes.groupNodes(group)).toEqual([node]);
      expect(await removeNode(node)).toEqual([user]);
      expect(await h.bus.routes.groupNodes(group)).toEqual([]);
    });
  });

}
