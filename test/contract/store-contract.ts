import { randomBytes } from 'node:crypto';
import { monotonicFactory } from 'ulid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatMessage, Target } from '../../node/protocol/frames.js';
import { conversationId } from '../../node/protocol/conversations.js';
import { messageIdTime } from '../../node/protocol/ids.js';
import type { NodeRecord, SessionRecord, Store, SyncPage } from '../../node/store/store.js';

/** What a contract run needs: a store, empty or shared, and how to dispose of it. */
export interface OpenedStore {
  store: Store;
  close(): Promise<void>;
}

const DAY = 24 * 60 * 60 * 1000;
const HOUR = 60 * 60 * 1000;
// Fixed times in the past, so buckets are the same on every run.
const EPOCH = Date.UTC(2025, 0, 6, 9);

/** A name no other test uses, so tests can share one store. */
function fresh(prefix: string): string {
  return `${prefix}-${randomBytes(5).toString('hex')}`;
}

/** Message ids at the given times (ascending), strictly increasing as in one node. */
function idsAt(times: readonly number[]): string[] {
  const next = monotonicFactory();
  return times.map((time) => next(time));
}

function message(id: string, from: string, to: Target, text = `text of ${id}`): ChatMessage {
  return { id, conv: conversationId(from, to), from, to, text, ts: messageIdTime(id) };
}

function byId(a: ChatMessage, b: ChatMessage): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

function bySession(a: SessionRecord, b: SessionRecord): number {
  const left = `${a.user}\u0000${a.node}\u0000${a.session}`;
  const right = `${b.user}\u0000${b.node}\u0000${b.session}`;
  return left < right ? -1 : left > right ? 1 : 0;
}

/**
 * Registers the behaviour every `Store` must have (Cassandra, in-memory, ...). `open` is
 * called once for the whole suite; tests use names of their own, so the store may be shared.
 */
export function describeStoreContract(name: string, open: () => Promise<OpenedStore>): void {
  describe(`${name} keeps the Store contract`, () => {
    let opened: OpenedStore | undefined;

    beforeAll(async () => {
      opened = await open();
    });
    afterAll(async () => {
      await opened?.close();
    });

    function store(): Store {
      if (opened === undefined) throw new Error('the store did not open');
      return opened.store;
    }

    /** Appends messages in the given order, each with the participants of its conversation. */
    async function append(messages: readonly ChatMessage[], participants: (m: ChatMessage) => readonly string[]): Promise<void> {
      for (const m of messages) await store().appendMessage(m, participants(m));
    }

    /** Every page of a user's sync from `since`, asking again with `next` until it is null. */
    async function syncAll(user: string, limit: number, since?: string): Promise<SyncPage[]> {
      const pages: SyncPage[] = [];
      let cursor = since;
      for (;;) {
        const page = await store().sync(user, cursor === undefined ? { limit } : { since: cursor, limit });
        pages.push(page);
        if (page.next === null) return pages;
        if (pages.length > 100) throw new Error('sync never ends');
        cursor = page.next;
      }
    }

    it('answers as healthy', async () => {
      expect(await store().isHealthy()).toBe(true);
    });

    describe('groups', () => {
      it('lets the first creator of a name win', async () => {
        const group = fresh('g');
        const first = { name: group, createdBy: fresh('alice'), createdAt: EPOCH };
        expect(await store().createGroup(first)).toBe(true);
        expect(await store().createGroup({ name: group, createdBy: fresh('bob'), createdAt: EPOCH + 5_000 })).toBe(false);
        expect(await store().getGroup(group)).toEqual(first);
      });

      it('has no record of a group never created', async () => {
        expect(await store().getGroup(fresh('nothing'))).toBeUndefined();
      });

      it('records membership in both directions', async () => {
        const group = fresh('g');
        const [carol, alice, bob] = [fresh('carol'), fresh('alice'), fresh('bob')];
        for (const user of [carol, alice, bob]) await store().addMember(group, user);
        expect(await store().members(group)).toEqual([alice, bob, carol].sort());
        expect(await store().groupsOf(alice)).toEqual([group]);
        expect(await store().isMember(group, bob)).toBe(true);
        expect(await store().isMember(group, fresh('dave'))).toBe(false);
        expect(await store().isMember(fresh('other'), bob)).toBe(false);
      });

      it('lists a user’s groups sorted by name', async () => {
        const user = fresh('erin');
        const stem = fresh('g');
        const groups = [`${stem}-m`, `${stem}-a`, `${stem}-z`, `${stem}-b`];
        for (const group of groups) await store().addMember(group, user);
        expect(await store().groupsOf(user)).toEqual([...groups].sort());
      });

      it('counts a member once however often they join', async () => {
        const group = fresh('g');
        const user = fresh('frank');
        await store().addMember(group, user);
        await store().addMember(group, user);
        expect(await store().members(group)).toEqual([user]);
        expect(await store().groupsOf(user)).toEqual([group]);
      });

      it('forgets both directions when a member leaves', async () => {
        const group = fresh('g');
        const other = fresh('g');
        const [gina, hank] = [fresh('gina'), fresh('hank')].sort() as [string, string];
        await store().addMember(group, gina);
        await store().addMember(group, hank);
        await store().addMember(other, gina);
        await store().removeMember(group, gina);
        expect(await store().isMember(group, gina)).toBe(false);
        expect(await store().members(group)).toEqual([hank]);
        expect(await store().groupsOf(gina)).toEqual([other]);
      });

      it('has no members for an unknown group and no groups for an unknown user', async () => {
        expect(await store().members(fresh('nothing'))).toEqual([]);
        expect(await store().groupsOf(fresh('nobody'))).toEqual([]);
      });
    });

    describe('history', () => {
      /** 15 messages of a direct conversation: 5 on each of three days, with empty days between. */
      async function longConversation(): Promise<{ conv: string; messages: ChatMessage[] }> {
        const [ann, ben] = [fresh('ann'), fresh('ben')];
        const times = [0, 3, 10].flatMap((day) => [0, 1, 2, 3, 4].map((hour) => EPOCH + day * DAY + hour * HOUR));
        const messages = idsAt(times).map((id, i) => (i % 2 === 0 ? message(id, ann, { user: ben }) : message(id, ben, { user: ann })));
        await append(messages, () => [ann, ben]);
        return { conv: conversationId(ann, { user: ben }), messages };
      }

      it('returns a message exactly as it was stored', async () => {
        const [from, group] = [fresh('ivy'), fresh('g')];
        const [id] = idsAt([EPOCH]) as [string];
        const stored = message(id, from, { group }, 'héllo 👋 "quoted" \n newline');
        await store().appendMessage(stored, [from]);
        expect(await store().history(stored.conv, { limit: 10 })).toEqual({ messages: [stored], more: false });
      });

      it('pages newest first across days, with more until the oldest page', async () => {
        const { conv, messages } = await longConversation();
        const newestFirst = [...messages].reverse();
        const pages = [];
        let before: string | undefined;
        for (;;) {
          const page = await store().history(conv, before === undefined ? { limit: 4 } : { before, limit: 4 });
          pages.push(page);
          if (!page.more) break;
          before = page.messages.at(-1)?.id;
          if (pages.length > 10) throw new Error('history never ends');
        }
        expect(pages.map((page) => page.messages.length)).toEqual([4, 4, 4, 3]);
        expect(pages.map((page) => page.more)).toEqual([true, true, true, false]);
        expect(pages.flatMap((page) => page.messages)).toEqual(newestFirst);
      });

      it('returns only messages older than the before cursor', async () => {
        const { conv, messages } = await longConversation();
        const cursor = messages[7];
        expect(cursor).toBeDefined();
        const all = await store().history(conv, { before: cursor?.id, limit: 100 });
        expect(all).toEqual({ messages: messages.slice(0, 7).reverse(), more: false });
        const some = await store().history(conv, { before: cursor?.id, limit: 3 });
        expect(some).toEqual({ messages: messages.slice(4, 7).reverse(), more: true });
        const none = await store().history(conv, { before: messages[0]?.id, limit: 3 });
        expect(none).toEqual({ messages: [], more: false });
      });

      it('says there is no more when the limit takes exactly every message', async () => {
        const { conv, messages } = await longConversation();
        expect(await store().history(conv, { limit: messages.length })).toEqual({ messages: [...messages].reverse(), more: false });
        expect(await store().history(conv, { limit: messages.length - 1 })).toEqual({
          messages: messages.slice(1).reverse(),
          more: true,
        });
      });

      it('keeps conversations apart', async () => {
        const [jo, kim, lou] = [fresh('jo'), fresh('kim'), fresh('lou')];
        const [a, b, c] = idsAt([EPOCH, EPOCH + 1, EPOCH + 2]) as [string, string, string];
        const toKim = message(a, jo, { user: kim });
        const toLou = message(b, jo, { user: lou });
        const fromKim = message(c, kim, { user: jo });
        await store().appendMessage(toKim, [jo, kim]);
        await store().appendMessage(toLou, [jo, lou]);
        await store().appendMessage(fromKim, [jo, kim]);
        expect(await store().history(toKim.conv, { limit: 10 })).toEqual({ messages: [fromKim, toKim], more: false });
        expect(await store().history(toLou.conv, { limit: 10 })).toEqual({ messages: [toLou], more: false });
      });

      it('is empty for a conversation without messages', async () => {
        expect(await store().history(`g:${fresh('quiet')}`, { limit: 10 })).toEqual({ messages: [], more: false });
      });
    });

    describe('sync', () => {
      /**
       * Four users: `me` talks to `you` and `them` and is in a group with both; `you` and
       * `them` also talk without `me`. Returns what `me` takes part in, oldest first.
       */
      async function busyUser(): Promise<{ me: string; you: string; them: string; mine: ChatMessage[]; notMine: ChatMessage[] }> {
        const [me, you, them, group] = [fresh('me'), fresh('you'), fresh('them'), fresh('g')];
        const ids = idsAt([0, 0.5, 1, 2, 2.2, 3, 4, 5, 5.5, 6, 8].map((day) => EPOCH + day * DAY));
        const plan: [string, Target][] = [
          [me, { user: you }],
          [you, { user: them }],
          [them, { group }],
          [you, { user: me }],
          [me, { group }],
          [them, { user: you }],
          [them, { user: me }],
          [me, { user: them }],
          [you, { group }],
          [you, { user: me }],
          [me, { group }],
        ];
        const messages = plan.map(([from, to], i) => message(ids[i] ?? '', from, to));
        const participants = (m: ChatMessage): string[] => ('group' in m.to ? [me, you, them] : [m.from, m.to.user]);
        // Interleave the append order so the store cannot rely on appends arriving in id order.
        await append([...messages.filter((_, i) => i % 2 === 1), ...messages.filter((_, i) => i % 2 === 0)], participants);
        const mine = messages.filter((m) => participants(m).includes(me));
        return { me, you, them, mine, notMine: messages.filter((m) => !mine.includes(m)) };
      }

      it('returns every message of every conversation of the user, oldest first, page by page', async () => {
        const { me, mine } = await busyUser();
        expect(mine).toHaveLength(9);
        const pages = await syncAll(me, 4);
        expect(pages.map((page) => page.messages.length)).toEqual([4, 4, 1]);
        expect(pages.map((page) => page.next)).toEqual([mine[3]?.id, mine[7]?.id, null]);
        expect(pages.flatMap((page) => page.messages)).toEqual(mine);
      });

      it('ends with next null when the last page is exactly full', async () => {
        const { me, mine } = await busyUser();
        const pages = await syncAll(me, 3);
        expect(pages.map((page) => page.messages.length)).toEqual([3, 3, 3]);
        expect(pages.map((page) => page.next)).toEqual([mine[2]?.id, mine[5]?.id, null]);
        expect(pages.flatMap((page) => page.messages)).toEqual(mine);
      });

      it('returns only messages after the since cursor', async () => {
        const { me, mine } = await busyUser();
        const since = mine[4]?.id;
        expect(since).toBeDefined();
        expect(await store().sync(me, { since, limit: 100 })).toEqual({ messages: mine.slice(5), next: null });
        const pages = await syncAll(me, 2, since);
        expect(pages.flatMap((page) => page.messages)).toEqual(mine.slice(5));
        const newest = mine.at(-1)?.id;
        expect(await store().sync(me, { since: newest, limit: 100 })).toEqual({ messages: [], next: null });
      });

      it('never returns conversations the user takes no part in', async () => {
        const { you, them, mine, notMine } = await busyUser();
        const [youAll] = await syncAll(you, 100);
        const [themAll] = await syncAll(them, 100);
        const involves = (user: string) => (m: ChatMessage) =>
          m.from === user || ('user' in m.to && m.to.user === user) || 'group' in m.to;
        expect(youAll?.messages).toEqual([...mine, ...notMine].filter(involves(you)).sort(byId));
        expect(themAll?.messages).toEqual([...mine, ...notMine].filter(involves(them)).sort(byId));
        expect(await store().sync(fresh('stranger'), { limit: 100 })).toEqual({ messages: [], next: null });
      });

      it('finds a newer message even when an older one of the same conversation was appended after it', async () => {
        const [ned, ola] = [fresh('ned'), fresh('ola')];
        const [a, b, c] = idsAt([EPOCH, EPOCH + DAY, EPOCH + 2 * DAY]).map((id) => message(id, ned, { user: ola })) as [
          ChatMessage,
          ChatMessage,
          ChatMessage,
        ];
        await append([b, c, a], () => [ned, ola]);
        expect(await store().sync(ola, { since: b.id, limit: 10 })).toEqual({ messages: [c], next: null });
        expect(await store().sync(ned, { since: a.id, limit: 10 })).toEqual({ messages: [b, c], next: null });
      });

      it('pages through a conversation whose new messages share the cursor’s day, and reaches past it when the next day has some', async () => {
        const [sam, tia] = [fresh('sam'), fresh('tia')];
        const sameDay = idsAt([0, 1, 2, 3, 4].map((hour) => EPOCH + hour * HOUR)).map((id) => message(id, sam, { user: tia }));
        await append(sameDay, () => [sam, tia]);
        const [cursor] = sameDay as [ChatMessage];
        expect((await syncAll(tia, 2, cursor.id)).flatMap((page) => page.messages)).toEqual(sameDay.slice(1));
        expect(await store().sync(sam, { since: cursor.id, limit: 3 })).toEqual({ messages: sameDay.slice(1, 4), next: sameDay[3]?.id });
        const [nextDay] = idsAt([EPOCH + DAY]).map((id) => message(id, tia, { user: sam })) as [ChatMessage];
        await append([nextDay], () => [sam, tia]);
        expect(await store().sync(sam, { since: sameDay[2]?.id, limit: 10 })).toEqual({ messages: [...sameDay.slice(3), nextDay], next: null });
      });

      it('finds the newer of two messages stored within one millisecond in reverse order', async () => {
        const [pia, rex] = [fresh('pia'), fresh('rex')];
        const [first, second] = idsAt([EPOCH, EPOCH]).map((id) => message(id, pia, { user: rex })) as [ChatMessage, ChatMessage];
        expect(first.ts).toBe(second.ts);
        await append([second, first], () => [pia, rex]);
        expect(await store().sync(rex, { since: first.id, limit: 10 })).toEqual({ messages: [second], next: null });
      });

      it('gives a group message only to the participants it was stored for', async () => {
        const [pat, quinn, late, group] = [fresh('pat'), fresh('quinn'), fresh('late'), fresh('g')];
        const [id] = idsAt([EPOCH]) as [string];
        const stored = message(id, pat, { group });
        await store().appendMessage(stored, [pat, quinn]);
        expect(await store().sync(quinn, { limit: 10 })).toEqual({ messages: [stored], next: null });
        expect(await store().sync(late, { limit: 10 })).toEqual({ messages: [], next: null });
      });
      it('returns the messages of the groups the user is a member of now, with no row per member', async () => {
        const [ann, bea, cy, group] = [fresh('ann'), fresh('bea'), fresh('cy'), fresh('g')];
        const [before, after] = idsAt([EPOCH, EPOCH + 2 * DAY]).map((id) => message(id, ann, { group })) as [ChatMessage, ChatMessage];
        await store().addMember(group, ann);
        await store().addMember(group, bea);
        await append([before, after], () => []);
        expect(await store().sync(bea, { limit: 10 })).toEqual({ messages: [before, after], next: null });
        expect(await store().sync(bea, { since: before.id, limit: 10 })).toEqual({ messages: [after], next: null });
        expect(await store().sync(cy, { limit: 10 })).toEqual({ messages: [], next: null });
        await store().removeMember(group, bea);
        expect(await store().sync(bea, { limit: 10 })).toEqual({ messages: [], next: null });
      });
    });

    describe('sessions', () => {
      it('lists a user’s sessions on every node and a node’s sessions of every user', async () => {
        const [user, other, node1, node2] = [fresh('rae'), fresh('sam'), fresh('node'), fresh('node')];
        const one = { user, node: node1, session: fresh('s') };
        const two = { user, node: node2, session: fresh('s') };
        const three = { user: other, node: node1, session: fresh('s') };
        for (const session of [one, two, three]) await store().putSession(session, 60);
        expect((await store().sessionsOf(user)).sort(bySession)).toEqual([one, two].sort(bySession));
        expect((await store().sessionsOnNode(node1)).sort(bySession)).toEqual([one, three].sort(bySession));
        expect(await store().sessionsOnNode(node2)).toEqual([two]);
      });

      it('keeps one row per session however often it is refreshed', async () => {
        const session = { user: fresh('tia'), node: fresh('node'), session: fresh('s') };
        await store().putSession(session, 60);
        await store().putSession(session, 60);
        expect(await store().sessionsOf(session.user)).toEqual([session]);
        expect(await store().sessionsOnNode(session.node)).toEqual([session]);
      });

      it('forgets a deleted session in both directions', async () => {
        const [user, node] = [fresh('uma'), fresh('node')];
        const kept = { user, node, session: fresh('s') };
        const closed = { user, node, session: fresh('s') };
        await store().putSession(kept, 60);
        await store().putSession(closed, 60);
        await store().deleteSession(closed);
        expect(await store().sessionsOf(user)).toEqual([kept]);
        expect(await store().sessionsOnNode(node)).toEqual([kept]);
      });

      it('deletes a node’s sessions all at once, in both directions, and keeps other nodes’', async () => {
        const [user, other, leaving, staying] = [fresh('val'), fresh('wes'), fresh('node'), fresh('node')];
        const gone = [{ user, node: leaving, session: fresh('s') }, { user: other, node: leaving, session: fresh('s') }];
        const kept = { user, node: staying, session: fresh('s') };
        for (const session of [...gone, kept]) await store().putSession(session, 60);
        expect((await store().sessionsOnNode(leaving)).sort(bySession)).toEqual([...gone].sort(bySession));
        await store().deleteSessionsOnNode(leaving);
        expect(await store().sessionsOnNode(leaving)).toEqual([]);
        expect(await store().sessionsOf(user)).toEqual([kept]);
        expect(await store().sessionsOf(other)).toEqual([]);
        // A second time finds nothing to delete, and fails nothing.
        await store().deleteSessionsOnNode(leaving);
        expect(await store().sessionsOf(user)).toEqual([kept]);
      });

      it('has no sessions for an unknown user or node', async () => {
        expect(await store().sessionsOf(fresh('nobody'))).toEqual([]);
        expect(await store().sessionsOnNode(fresh('node'))).toEqual([]);
      });
    });

    describe('node registry', () => {
      async function registered(ids: readonly string[]): Promise<NodeRecord[]> {
        return (await store().nodes()).filter((node) => ids.includes(node.id));
      }

      it('lists the nodes put in it', async () => {
        const first: NodeRecord = { id: fresh('node'), address: '10.0.0.1:9090', startedAt: EPOCH, heartbeatAt: EPOCH + 1_000, connections: 0 };
        const second: NodeRecord = { id: fresh('node'), address: '10.0.0.2:9090', startedAt: EPOCH, heartbeatAt: EPOCH + 2_000, connections: 12 };
        await store().putNode(first);
        await store().putNode(second);
        const found = await registered([first.id, second.id]);
        expect(found.sort((a, b) => (a.id < b.id ? -1 : 1))).toEqual([first, second].sort((a, b) => (a.id < b.id ? -1 : 1)));
      });

      it('refreshes a node in place', async () => {
        const node: NodeRecord = { id: fresh('node'), address: '10.0.0.3:9090', startedAt: EPOCH, heartbeatAt: EPOCH, connections: 1 };
        await store().putNode(node);
        const refreshed = { ...node, heartbeatAt: EPOCH + 5_000, connections: 42 };
        await store().putNode(refreshed);
        expect(await registered([node.id])).toEqual([refreshed]);
      });

      it('forgets a deleted node and keeps the others', async () => {
        const gone: NodeRecord = { id: fresh('node'), address: '10.0.0.4:9090', startedAt: EPOCH, heartbeatAt: EPOCH, connections: 3 };
        const kept: NodeRecord = { ...gone, id: fresh('node') };
        await store().putNode(gone);
        await store().putNode(kept);
        await store().deleteNode(gone.id);
        expect(await registered([gone.id, kept.id])).toEqual([kept]);
      });
    });
  });
}
