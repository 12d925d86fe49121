import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChatClient, type Frame } from '../support/chat-client.js';
import { publicFetch, upgradeStatus, type PublicFetch } from '../support/public-http.js';
import { TEST_JWT_SECRET, tokenFor, type NodeProcess } from '../../dev/node-processes.js';

/** What a protocol suite runs against: one node (embedded) or several (a cluster). */
export interface ChatDeployment {
  nodes: NodeProcess[];
  /** The CA the nodes' certificates chain to, when they serve wss:// from a CA of the test's own. */
  ca?: string;
  stop(): Promise<void>;
}

/**
 * PROTOCOL.md version 1, row by row, as a client outside the project sees it. Users are
 * spread over the deployment's nodes (round robin), so on a cluster every exchange
 * crosses nodes.
 */
export function describeProtocol(name: string, deploy: () => Promise<ChatDeployment>): void {
  describe(`wire protocol v1 on ${name}`, () => {
    let deployment: ChatDeployment;
    let fetchPublic: PublicFetch;
    let spread = 0;
    const clients: ChatClient[] = [];
    const run = randomBytes(3).toString('hex');
    const user = (label: string): string => `${label}-${run}`;
    const nodeAt = (index: number): NodeProcess => {
      const node = deployment.nodes[index % deployment.nodes.length];
      if (node === undefined) throw new Error('deployment has no nodes');
      return node;
    };
    /** Connects `who`, by default to the next node in turn. */
    const connect = async (who: string, nodeIndex = spread++): Promise<ChatClient> => {
      const client = await ChatClient.connect(nodeAt(nodeIndex).wsUrl, await tokenFor(who), 'header', deployment.ca);
      clients.push(client);
      return client;
    };
    const api = async (who: string, method: string, path: string, body?: unknown, nodeIndex = 0): Promise<{ status: number; json: unknown }> => {
      const response = await fetchPublic(`${nodeAt(nodeIndex).url}${path}`, {
        method,
        headers: { authorization: `Bearer ${await tokenFor(who)}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
      });
      const text = await response.text();
      return { status: response.status, json: text === '' ? undefined : (JSON.parse(text) as unknown) };
    };
    const settle = (ms = 300): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

    beforeAll(async () => {
      deployment = await deploy();
      fetchPublic = publicFetch(deployment.ca);
    });
    afterAll(async () => {
      for (const client of clients) client.close();
      // Undefined when deploying failed; that failure is the one to report.
      await (deployment as ChatDeployment | undefined)?.stop();
    });

    describe('connecting', () => {
      it('greets with hello naming protocol, node, user and session, with the token in a header or the query', async () => {
        const viaHeader = await connect(user('hello-a'));
        expect(viaHeader.hello).toMatchObject({ type: 'hello', protocol: 1, user: user('hello-a') });
        expect(deployment.nodes.map((node) => node.id)).toContain(viaHeader.hello.node);
        expect(viaHeader.hello.session).toEqual(expect.any(String));
        const viaQuery = await ChatClient.connect(nodeAt(0).wsUrl, await tokenFor(user('hello-b')), 'query', deployment.ca);
        clients.push(viaQuery);
        expect(viaQuery.hello).toMatchObject({ type: 'hello', user: user('hello-b') });
        expect(viaQuery.hello.session).not.toBe(viaHeader.hello.session);
      });

      it('refuses the upgrade with HTTP 401 for missing, forged, expired, unsigned or ill-named tokens', async () => {
        const key = new TextEncoder().encode(TEST_JWT_SECRET);
        const now = Math.floor(Date.now() / 1000);
        const expired = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('eve').setExpirationTime(now - 60).sign(key);
        const notYet = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('eve').setNotBefore(now + 600).setExpirationTime(now + 900).sign(key);
        const noExp = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('eve').sign(key);
        const badSub = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('eve/../root').setExpirationTime(now + 60).sign(key);
        const wrongKey = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('eve').setExpirationTime(now + 60).sign(new TextEncoder().encode('another-secret-0123456789abcdef0123'));
        const unsigned = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from(JSON.stringify({ sub: 'eve', exp: now + 60 })).toString('base64url')}.`;
        const statusOf = (token?: string): Promise<number> => upgradeStatus(`${nodeAt(0).url}/ws`, token, deployment.ca);
        expect(await statusOf()).toBe(401);
        for (const token of ['garbage', expired, notYet, noExp, badSub, wrongKey, unsigned]) expect(await statusOf(token)).toBe(401);
        await expect(ChatClient.connect(nodeAt(0).wsUrl, expired, 'header', deployment.ca)).rejects.toThrow(/401/);
      });

      it('closes an open socket with 4401 when its token expires', async () => {
        const client = await ChatClient.connect(nodeAt(0).wsUrl, await tokenFor(user('short-lived'), 2), 'header', deployment.ca);
        clients.push(client);
        expect(await client.closed(8000)).toBe(4401);
      });
    });

    describe('direct messages', () => {
      it('acks the sender, then delivers to every socket of the recipient and to the sender’s other sockets, once each', async () => {
        const [alice, bob] = [user('dm-alice'), user('dm-bob')];
        const aliceMain = await connect(alice);
        const aliceOther = await connect(alice);
        const bobOne = await connect(bob);
        const bobTwo = await connect(bob);
        const ack = await aliceMain.request({ type: 'send', to: { user: bob }, text: 'hello bob' });
        expect(ack).toMatchObject({ type: 'ack', conv: `dm:${alice}:${bob}` });
        expect(ack.id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
        expect(Math.abs((ack.ts as number) - Date.now())).toBeLessThan(10_000);
        const expected = { type: 'message', id: ack.id, conv: ack.conv, from: alice, to: { user: bob }, text: 'hello bob', ts: ack.ts };
        for (const client of [bobOne, bobTwo, aliceOther]) expect(await client.waitFor((f) => f.id === ack.id)).toEqual(expected);
        await settle();
        for (const client of [bobOne, bobTwo, aliceOther]) expect(client.messages().filter((f) => f.id === ack.id)).toHaveLength(1);
        expect(aliceMain.messages().filter((f) => f.id === ack.id)).toHaveLength(0);
      });

      it('names a direct conversation dm:a:b with a < b in byte order, whoever sends', async () => {
        const [upper, lower] = [user('Zed'), user('amy')];
        const zed = await connect(upper);
        const ack = await zed.request({ type: 'send', to: { user: lower }, text: 'hi' });
        expect(ack.conv).toBe(`dm:${upper}:${lower}`); // 'Z' (0x5a) sorts before 'a' (0x61)
      });

      it('gives message ids that sort in time order within a conversation', async () => {
        const [a, b] = [user('order-a'), user('order-b')];
        const sender = await connect(a);
        const ids: string[] = [];
        for (let i = 0; i < 10; i++) ids.push((await sender.request({ type: 'send', to: { user: b }, text: `m${i}` })).id as string);
        expect([...ids].sort()).toEqual(ids);
        expect(new Set(ids).size).toBe(10);
      });

      it('returns the first ack for a repeated idem and stores and delivers nothing new', async () => {
        const [a, b] = [user('idem-a'), user('idem-b')];
        const sender = await connect(a);
        const receiver = await connect(b);
        const first = await sender.request({ type: 'send', to: { user: b }, text: 'once', idem: 'key-1' });
        const again = await sender.request({ type: 'send', to: { user: b }, text: 'once', idem: 'key-1' });
        expect(again).toMatchObject({ type: 'ack', id: first.id, ts: first.ts, conv: first.conv });
        await receiver.waitFor((f) => f.id === first.id);
        await settle();
        expect(receiver.messages()).toHaveLength(1);
        const history = await receiver.request({ type: 'history', conv: { user: a } });
        expect((history.messages as Frame[]).map((m) => m.id)).toEqual([first.id]);
        const otherUser = await connect(user('idem-c'));
        const sameKeyOtherUser = await otherUser.request({ type: 'send', to: { user: b }, text: 'mine', idem: 'key-1' });
        expect(sameKeyOtherUser.id).not.toBe(first.id);
      });

      it('lets an offline recipient sync every missed message in id order, in pages, on any node', async () => {
        const [a, b] = [user('sync-a'), user('sync-b')];
        const sender = await connect(a, 0);
        const sent: string[] = [];
        for (let i = 0; i < 5; i++) sent.push((await sender.request({ type: 'send', to: { user: b }, text: `while away ${i}` })).id as string);
        const receiver = await connect(b, 1);
        const everything = await receiver.request({ type: 'sync', since: 0 });
        expect(everything).toMatchObject({ type: 'sync', next: null });
        expect((everything.messages as Frame[]).map((m) => m.id)).toEqual(sent);
        const sinceSecond = await receiver.request({ type: 'sync', since: sent[1] });
        expect((sinceSecond.messages as Frame[]).map((m) => m.id)).toEqual(sent.slice(2));
        const nothing = await receiver.request({ type: 'sync', since: sent[4] });
        expect(nothing).toMatchObject({ messages: [], next: null });
      });
    });

    describe('sync cursor', () => {
      /** Every id a sync walk from `since` returns, page by page, and the cursor it ends with. */
      const syncAll = async (client: ChatClient, since: string | 0): Promise<{ ids: string[]; cursor: string; pages: number }> => {
        const ids: string[] = [];
        let from: string | 0 | null = since;
        let last: Frame | undefined;
        let pages = 0;
        while (from !== null) {
          last = await client.request({ type: 'sync', since: from });
          expect(last.type).toBe('sync');
          expect(last.cursor).toMatch(/^c1\./);
          ids.push(...(last.messages as Frame[]).map((m) => m.id as string));
          from = last.next as string | null;
          pages += 1;
        }
        return { ids, cursor: last?.cursor as string, pages };
      };

      it('live messages carry a cursor once the socket has synced, and resuming from the last one misses nothing', async () => {
        const [a, b] = [user('cur-a'), user('cur-b')];
        const sender = await connect(a, 0);
        const early = await sender.request({ type: 'send', to: { user: b }, text: 'before b connects' });
        const receiver = await connect(b, 1);
        const beforeSync = await sender.request({ type: 'send', to: { user: b }, text: 'before b syncs' });
        const unsynced = await receiver.waitFor((f) => f.id === beforeSync.id);
        // Until the socket synced, a cursor could pass what the client has not synced yet.
        expect(unsynced.cursor).toBeUndefined();
        const first = await syncAll(receiver, 0);
        expect(first.ids).toEqual([early.id, beforeSync.id]);
        const live: string[] = [];
        for (let i = 0; i < 3; i++) live.push((await sender.request({ type: 'send', to: { user: b }, text: `live ${i}` })).id as string);
        const frames = await Promise.all(live.map((id) => receiver.waitFor((f) => f.id === id)));
        for (const frame of frames) expect(frame.cursor).toEqual(expect.stringMatching(/^c1\./));
        const kept = frames.at(-1)?.cursor as string;
        receiver.close();
        await receiver.closed();
        const missed: string[] = [];
        for (let i = 0; i < 2; i++) missed.push((await sender.request({ type: 'send', to: { user: b }, text: `missed ${i}` })).id as string);
        const back = await connect(b, 2);
        const resumed = await syncAll(back, kept);
        expect(resumed.ids.slice(-2)).toEqual(missed);
        // The overlap is only messages the client already holds, dropped by id.
        for (const id of resumed.ids.slice(0, -2)) expect([...first.ids, ...live]).toContain(id);
        // Once nothing is in flight, the cursor catches up with everything: a sync from it is empty.
        await settle();
        const caughtUp = await syncAll(back, resumed.cursor);
        for (const id of caughtUp.ids) expect([...first.ids, ...live, ...missed]).toContain(id);
        expect((await syncAll(back, caughtUp.cursor)).ids).toEqual([]);
      });

      it('a walk over several pages returns every message once, in id order, and its cursor resumes after them', async () => {
        const receiverName = user('pages-b');
        const senders = await Promise.all(Array.from({ length: 11 }, (_, index) => connect(user(`pages-a${index}`))));
        // 20 each: the per-user rate limit's burst, and 220 in all, more than one page.
        const sent = (
          await Promise.all(
            senders.map(async (sender) => {
              const ids: string[] = [];
              for (let i = 0; i < 20; i++) ids.push((await sender.request({ type: 'send', to: { user: receiverName }, text: `page ${i}` })).id as string);
              return ids;
            }),
          )
        ).flat();
        // Acked is not yet routed: the walk's floor passes a message only once every node saw
        // it finished, a tick or two later. Without the wait, a quick burst ends below it.
        await settle();
        const receiver = await connect(receiverName);
        const walk = await syncAll(receiver, 0);
        expect(walk.pages).toBeGreaterThan(1);
        expect(walk.ids).toEqual([...sent].sort());
        expect((await syncAll(receiver, walk.cursor)).ids).toEqual([]);
      });

      it('refuses a cursor it did not make, naming the field', async () => {
        const client = await connect(user('cur-bad'));
        const refused = await client.request({ type: 'sync', since: 'c1.yesterday' });
        expect(refused).toMatchObject({ type: 'error', code: 'bad_request' });
        expect(refused.message).toMatch(/^since/);
      });
    });

    describe('groups', () => {
      it('creates, lists, joins, shows members and leaves', async () => {
        const [owner, guest] = [user('grp-owner'), user('grp-guest')];
        const group = `team-${run}`;
        const ownerClient = await connect(owner);
        const guestClient = await connect(guest);
        const created = await ownerClient.request({ type: 'group.create', name: group });
        expect(created).toMatchObject({ type: 'group', group: { name: group, createdBy: owner } });
        expect(await guestClient.request({ type: 'group.join', group })).toMatchObject({ type: 'ok' });
        expect(await ownerClient.request({ type: 'group.members', group })).toMatchObject({ type: 'members', group, members: [owner, guest].sort() });
        expect(await guestClient.request({ type: 'groups' })).toMatchObject({ type: 'groups', groups: [group] });
        expect(await guestClient.request({ type: 'group.leave', group })).toMatchObject({ type: 'ok' });
        expect(await guestClient.request({ type: 'groups' })).toMatchObject({ groups: [] });
        expect(await ownerClient.request({ type: 'group.members', group })).toMatchObject({ members: [owner] });
      });

      it('answers its creator asking again with the group as it was made, and keeps them a member (a retry after a lost answer)', async () => {
        const owner = user('grp-retry');
        const group = `retried-${run}`;
        const client = await connect(owner);
        const created = await client.request({ type: 'group.create', name: group });
        expect(created).toMatchObject({ type: 'group', group: { name: group, createdBy: owner } });
        expect(await client.request({ type: 'group.create', name: group })).toMatchObject({ type: 'group', group: created.group as object });
        // Even after leaving: asking to create it again is asking to be in it.
        expect(await client.request({ type: 'group.leave', group })).toMatchObject({ type: 'ok' });
        expect(await client.request({ type: 'group.create', name: group })).toMatchObject({ type: 'group', group: created.group as object });
        expect(await client.request({ type: 'group.members', group })).toMatchObject({ type: 'members', members: [owner] });
      });

      it('refuses a taken name (conflict), unknown groups (not_found) and non-members (forbidden)', async () => {
        const [owner, outsider] = [user('acl-owner'), user('acl-outsider')];
        const group = `private-${run}`;
        const ownerClient = await connect(owner);
        const outsiderClient = await connect(outsider);
        await ownerClient.request({ type: 'group.create', name: group });
        expect(await outsiderClient.request({ type: 'group.create', name: group })).toMatchObject({ type: 'error', code: 'conflict' });
        expect(await outsiderClient.request({ type: 'group.join', group: `nope-${run}` })).toMatchObject({ type: 'error', code: 'not_found' });
        expect(await outsiderClient.request({ type: 'group.members', group })).toMatchObject({ type: 'error', code: 'forbidden' });
        expect(await outsiderClient.request({ type: 'send', to: { group }, text: 'let me in' })).toMatchObject({ type: 'error', code: 'forbidden' });
        expect(await outsiderClient.request({ type: 'history', conv: { group } })).toMatchObject({ type: 'error', code: 'forbidden' });
      });

      it('delivers a group message to each member socket exactly once, on every node, and not to the sending socket', async () => {
        const group = `fanout-${run}`;
        const members = ['g1', 'g2', 'g3', 'g4', 'g5'].map(user);
        const [first, ...rest] = members as [string, ...string[]];
        const creator = await connect(first);
        await creator.request({ type: 'group.create', name: group });
        const sockets = [creator, await connect(first)];
        for (const member of rest) {
          const socket = await connect(member);
          await socket.request({ type: 'group.join', group });
          sockets.push(socket, await connect(member));
        }
        const outsider = await connect(user('g-outsider'));
        const ack = await creator.request({ type: 'send', to: { group }, text: 'all hands' });
        expect(ack).toMatchObject({ type: 'ack', conv: `g:${group}` });
        const receivers = sockets.filter((socket) => socket !== creator);
        for (const socket of receivers) {
          expect(await socket.waitFor((f) => f.id === ack.id)).toMatchObject({ from: first, to: { group }, text: 'all hands', conv: `g:${group}` });
        }
        await settle(500);
        for (const socket of receivers) expect(socket.messages().filter((f) => f.id === ack.id)).toHaveLength(1);
        expect(creator.messages().filter((f) => f.id === ack.id)).toHaveLength(0);
        expect(outsider.messages()).toHaveLength(0);
      });

      it('routes to a member who joined after connecting, and stops after they leave', async () => {
        const group = `late-${run}`;
        const [owner, late] = [user('late-owner'), user('late-joiner')];
        const ownerClient = await connect(owner, 0);
        await ownerClient.request({ type: 'group.create', name: group });
        const lateClient = await connect(late, 1);
        const lateOther = await connect(late, 2);
        await lateClient.request({ type: 'group.join', group });
        const first = await ownerClient.request({ type: 'send', to: { group }, text: 'welcome' });
        await lateClient.waitFor((f) => f.id === first.id);
        await lateOther.waitFor((f) => f.id === first.id);
        await lateOther.request({ type: 'group.leave', group });
        const second = await ownerClient.request({ type: 'send', to: { group }, text: 'after you left' });
        await settle(500);
        expect(lateClient.messages().some((f) => f.id === second.id)).toBe(false);
        expect(lateOther.messages().some((f) => f.id === second.id)).toBe(false);
      });

      it('returns group messages to members through sync', async () => {
        const group = `sync-group-${run}`;
        const [owner, member] = [user('sg-owner'), user('sg-member')];
        const ownerClient = await connect(owner);
        await ownerClient.request({ type: 'group.create', name: group });
        await api(member, 'POST', `/v1/groups/${group}/join`);
        const ack = await ownerClient.request({ type: 'send', to: { group }, text: 'catch up' });
        const memberClient = await connect(member);
        const page = await memberClient.request({ type: 'sync', since: 0 });
        expect((page.messages as Frame[]).map((m) => m.id)).toContain(ack.id);
      });
    });

    describe('history', () => {
      it('pages a conversation newest first with more and before', async () => {
        const [a, b] = [user('hist-a'), user('hist-b')];
        const sender = await connect(a);
        const ids: string[] = [];
        for (let i = 0; i < 7; i++) ids.push((await sender.request({ type: 'send', to: { user: b }, text: `h${i}` })).id as string);
        const reader = await connect(b);
        const first = await reader.request({ type: 'history', conv: { user: a }, limit: 3 });
        expect((first.messages as Frame[]).map((m) => m.id)).toEqual(ids.slice(4).reverse());
        expect(first.more).toBe(true);
        const second = await reader.request({ type: 'history', conv: { user: a }, limit: 3, before: ids[4] });
        expect((second.messages as Frame[]).map((m) => m.id)).toEqual(ids.slice(1, 4).reverse());
        const last = await reader.request({ type: 'history', conv: { user: a }, limit: 3, before: ids[1] });
        expect(last).toMatchObject({ more: false });
        expect((last.messages as Frame[]).map((m) => m.id)).toEqual([ids[0]]);
        expect(await reader.request({ type: 'history', conv: { user: a }, limit: 201 })).toMatchObject({ type: 'error', code: 'bad_request' });
      });

      it('shows a direct conversation only to its two users', async () => {
        const [a, b, c] = [user('priv-a'), user('priv-b'), user('priv-c')];
        const sender = await connect(a);
        await sender.request({ type: 'send', to: { user: b }, text: 'just us' });
        const [low, high] = [a, b].sort() as [string, string];
        expect((await api(c, 'GET', `/v1/conversations/dm:${low}:${high}/messages`)).status).toBe(403);
        const own = await api(b, 'GET', `/v1/conversations/dm:${low}:${high}/messages`);
        expect(own.status).toBe(200);
        expect((own.json as { messages: Frame[] }).messages.map((m) => m.text)).toEqual(['just us']);
      });
    });

    describe('presence and typing', () => {
      it('answers the watched users’ status, then one event per change', async () => {
        const [watcher, watched] = [user('pw-watcher'), user('pw-watched')];
        const watcherClient = await connect(watcher, 0);
        const reply = await watcherClient.request({ type: 'presence.watch', users: [watched] });
        expect(reply).toMatchObject({ type: 'presence', users: { [watched]: 'offline' } });
        const watchedClient = await connect(watched, 1);
        await watcherClient.waitFor((f) => f.type === 'presence' && f.user === watched && f.status === 'online');
        const second = await connect(watched, 2);
        second.close();
        watchedClient.close();
        await watcherClient.waitFor((f) => f.type === 'presence' && f.user === watched && f.status === 'offline');
        const events = watcherClient.frames.filter((f) => f.type === 'presence' && f.user === watched);
        expect(events.map((f) => f.status)).toEqual(['online', 'offline']);
      });

      it('relays typing to the recipient without storing it', async () => {
        const [a, b] = [user('type-a'), user('type-b')];
        const typist = await connect(a);
        const reader = await connect(b);
        typist.sendRaw(JSON.stringify({ type: 'typing', to: { user: b } }));
        expect(await reader.waitFor((f) => f.type === 'typing')).toEqual({ type: 'typing', from: a, conv: [a, b].sort().join(':').replace(/^/, 'dm:') });
        const history = await reader.request({ type: 'history', conv: { user: a } });
        expect(history.messages).toEqual([]);
      });
    });

    describe('group typing', () => {
      it('relays typing in a group to the other members on every node, and not to outsiders', async () => {
        const group = `typing-${run}`;
        const [a, b, c] = [user('gt-a'), user('gt-b'), user('gt-outsider')];
        const typist = await connect(a, 0);
        await typist.request({ type: 'group.create', name: group });
        const member = await connect(b, 1);
        await member.request({ type: 'group.join', group });
        const outsider = await connect(c, 2);
        typist.sendRaw(JSON.stringify({ type: 'typing', to: { group } }));
        expect(await member.waitFor((f) => f.type === 'typing')).toEqual({ type: 'typing', from: a, conv: `g:${group}` });
        await settle();
        expect(outsider.frames.filter((f) => f.type === 'typing')).toEqual([]);
        expect(typist.frames.filter((f) => f.type === 'typing')).toEqual([]);
      });
    });

    describe('bad input', () => {
      it('answers malformed JSON, unknown types and bad fields with bad_request and keeps the socket open', async () => {
        const client = await connect(user('bad-input'));
        client.sendRaw('{not json');
        await client.waitFor((f) => f.type === 'error' && f.message === 'frame is not valid JSON');
        expect(await client.request({ type: 'launch.missiles' })).toMatchObject({ type: 'error', code: 'bad_request' });
        expect(await client.request({ type: 'send', to: { user: 'no spaces allowed' }, text: 'x' })).toMatchObject({ code: 'bad_request', message: /^to/ });
        expect(await client.request({ type: 'send', to: { group: 'UPPER' }, text: 'x' })).toMatchObject({ code: 'bad_request' });
        expect(await client.request({ type: 'send', to: { user: 'x' }, text: '' })).toMatchObject({ code: 'bad_request' });
        expect(await client.request({ type: 'group.create', name: 'x'.repeat(65) })).toMatchObject({ code: 'bad_request' });
        expect(await client.request({ type: 'presence.watch', users: Array.from({ length: 1001 }, (_, i) => `u${i}`) })).toMatchObject({ code: 'bad_request' });
        client.sendRaw(Buffer.from([1, 2, 3]));
        await client.waitFor((f) => f.type === 'error' && String(f.message).includes('binary'));
        expect(await client.request({ type: 'groups' })).toMatchObject({ type: 'groups' });
      });

      it('closes a socket that sends a frame over the size limit with 1009', async () => {
        const client = await connect(user('too-big'));
        client.sendRaw(JSON.stringify({ type: 'send', to: { user: 'x' }, text: 'x'.repeat(70 * 1024) }));
        expect(await client.closed()).toBe(1009);
      });

      it('refuses sends over the per-user rate with rate_limited, and closes sustained abuse with 1008', async () => {
        const client = await connect(user('flood'));
        const started = Date.now();
        const replies = await Promise.all(Array.from({ length: 60 }, (_, i) => client.request({ type: 'send', to: { user: user('flood-target') }, text: `${i}` })));
        const seconds = (Date.now() - started) / 1000;
        const codes = replies.map((reply) => (reply.type === 'ack' ? 'ack' : reply.code));
        const acks = codes.filter((code) => code === 'ack').length;
        expect(acks).toBeGreaterThan(0);
        // The node checks the rate as it takes each send, one at a time: 20 at once, then 20 a
        // second for as long as the sends took. A fast node refuses most of the 60; a slow
        // store (TLS on a loaded machine) lets more through, never more than the rate allows.
        expect(acks).toBeLessThanOrEqual(Math.ceil(20 + 20 * seconds));
        expect(new Set(codes.filter((code) => code !== 'ack'))).toEqual(new Set(acks === 60 ? [] : ['rate_limited']));
        // Past 100 bad or refused frames in 10 s the socket is closed. The refused sends above may
        // be none (a slow store acks all 60) or older than 10 s, so the bad frames alone cross it.
        for (let i = 0; i < 101; i++) client.sendRaw('{');
        expect(await client.closed()).toBe(1008);
      });
    });

    describe('the HTTP API', () => {
      it('offers every socket operation with the same codes', async () => {
        const [a, b] = [user('http-a'), user('http-b')];
        const group = `http-${run}`;
        const receiver = await connect(b);
        const sent = await api(a, 'POST', '/v1/messages', { to: { user: b }, text: 'over http', idem: 'h1' });
        expect(sent.status).toBe(201);
        expect(sent.json).toMatchObject({ conv: [a, b].sort().join(':').replace(/^/, 'dm:') });
        const { id } = sent.json as { id: string };
        await receiver.waitFor((f) => f.id === id);
        expect((await api(a, 'POST', '/v1/messages', { to: { user: b }, text: 'over http', idem: 'h1' })).json).toMatchObject({ id });
        expect((await api(a, 'POST', '/v1/groups', { name: group })).status).toBe(201);
        // Its creator asking again is a retry, answered with the group; anyone else is refused.
        expect((await api(a, 'POST', '/v1/groups', { name: group })).status).toBe(201);
        expect((await api(b, 'POST', '/v1/groups', { name: group })).status).toBe(409);
        expect((await api(b, 'POST', `/v1/groups/${group}/join`)).status).toBe(204);
        expect((await api(b, 'GET', `/v1/groups/${group}/members`)).json).toEqual({ members: [a, b].sort() });
        expect((await api(b, 'GET', '/v1/groups')).json).toEqual({ groups: [group] });
        expect((await api(b, 'POST', `/v1/groups/${group}/leave`)).status).toBe(204);
        expect((await api(b, 'GET', `/v1/groups/${group}/members`)).status).toBe(403);
        expect((await api(b, 'POST', `/v1/groups/nope-${run}/join`)).status).toBe(404);
        const history = await api(b, 'GET', `/v1/conversations/${[a, b].sort().join(':').replace(/^/, 'dm:')}/messages?limit=10`);
        expect(history.json).toMatchObject({ more: false, messages: [{ id, text: 'over http' }] });
        const synced = await api(b, 'GET', '/v1/sync?since=0');
        expect(synced.json).toMatchObject({ next: null });
        const { cursor } = synced.json as { cursor: string };
        expect(cursor).toMatch(/^c1\./);
        expect((await api(b, 'GET', `/v1/sync?since=${encodeURIComponent(cursor)}`)).status).toBe(200);
        expect((synced.json as { messages: Frame[] }).messages.map((m) => m.id)).toContain(id);
        expect((await api(a, 'POST', '/v1/messages', '{oops')).status).toBe(400);
        expect((await api(a, 'POST', '/v1/messages', { to: { user: b }, text: 'x'.repeat(70 * 1024) })).status).toBe(413);
        const anonymous = await fetchPublic(`${nodeAt(0).url}/v1/groups`);
        expect(anonymous.status).toBe(401);
        expect(await anonymous.json()).toMatchObject({ code: 'unauthorized' });
      });
    });

    describe('operations endpoints', () => {
      it('reports health, readiness, load and Prometheus metrics', async () => {
        const node = nodeAt(0);
        expect((await fetchPublic(`${node.url}/healthz`)).status).toBe(200);
        expect((await fetchPublic(`${node.url}/readyz`)).status).toBe(200);
        const load = (await (await fetch(`${node.adminUrl}/load`)).json()) as Record<string, unknown>;
        expect(load).toMatchObject({ node: node.id, draining: false });
        expect(load.connections).toEqual(expect.any(Number));
        const metrics = await (await fetch(`${node.adminUrl}/metrics`)).text();
        for (const name of ['chat_connections', 'chat_messages_received_total', 'chat_delivery_latency_seconds_bucket', 'chat_errors_total', 'chat_auth_failures_total', 'chat_rate_limited_total', 'process_resident_memory_bytes']) {
          expect(metrics).toContain(name);
        }
        expect((await fetchPublic(`${node.url}/metrics`)).status).toBe(404);
      });
    });
  });
}
