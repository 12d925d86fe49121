import { monotonicFactory } from 'ulid';
import { describe, expect, it } from 'vitest';
import type { ChatMessage } from '../protocol/frames.js';
import { conversationId } from '../protocol/conversations.js';
import { messageIdTime } from '../protocol/ids.js';
import { MAX_EMBEDDED_GROUPS, MAX_EMBEDDED_MEMBERSHIPS, MemoryStore, type DropReason, type MemoryStoreBounds } from './memory-store.js';

const EPOCH = Date.UTC(2025, 0, 6, 9);

/** `count` messages from alice to bob, a millisecond apart, in id order. */
function conversation(count: number, to = 'bob', text = 'hi'): ChatMessage[] {
  const next = monotonicFactory();
  return Array.from({ length: count }, (_, i) => {
    const id = next(EPOCH + i);
    return { id, conv: conversationId('alice', { user: to }), from: 'alice', to: { user: to }, text: `${text} ${i}`, ts: messageIdTime(id) };
  });
}

function boundedStore(bounds: MemoryStoreBounds): { store: MemoryStore; drops: DropReason[] } {
  const drops: DropReason[] = [];
  const store = new MemoryStore({ bounds, onFirstDrop: (reason) => drops.push(reason) });
  return { store, drops };
}

describe('the bounded memory store', () => {
  it('keeps the newest messages of a conversation past its bound, and history pages what is kept', async () => {
    const { store, drops } = boundedStore({ maxMessagesPerConversation: 5, maxBytes: 1024 * 1024 });
    const messages = conversation(12);
    for (const message of messages) await store.appendMessage(message, ['alice', 'bob']);
    const conv = messages[0]?.conv ?? '';
    expect(await store.history(conv, { limit: 3 })).toEqual({ messages: messages.slice(9).reverse(), more: true });
    expect(await store.history(conv, { before: messages[9]?.id, limit: 3 })).toEqual({ messages: messages.slice(7, 9).reverse(), more: false });
    expect(await store.findMessage(conv, messages[6]?.id ?? '')).toBeUndefined();
    expect(await store.findMessage(conv, messages[7]?.id ?? '')).toEqual(messages[7]);
    expect(store.usage().messages).toBe(5);
    expect(drops).toEqual(['conversation']);
  });

  it('drops the oldest message anywhere once the total passes its bound, and says so once per bound', async () => {
    const { store, drops } = boundedStore({ maxMessagesPerConversation: 1000, maxBytes: 20_000 });
    const toBob = conversation(40, 'bob', 'x'.repeat(100));
    const toCarol = conversation(40, 'carol', 'y'.repeat(100)).map((m, i) => ({ ...m, id: `${m.id.slice(0, -1)}${i % 2 === 0 ? 'Z' : 'Y'}` }));
    for (let i = 0; i < 40; i++) {
      await store.appendMessage(toBob[i] as ChatMessage, ['alice', 'bob']);
      await store.appendMessage(toCarol[i] as ChatMessage, ['alice', 'carol']);
    }
    const { bytes, messages } = store.usage();
    expect(bytes).toBeLessThanOrEqual(20_000);
    expect(messages).toBeGreaterThan(10);
    expect(messages).toBeLessThan(80);
    // What is kept is the newest of each conversation, and sync returns exactly that, in order.
    const bobKept = await store.history(toBob[0]?.conv ?? '', { limit: 200 });
    expect(bobKept.messages).toEqual(toBob.slice(40 - bobKept.messages.length).reverse());
    const synced = await store.sync('alice', { limit: 1000 });
    expect(synced.messages).toHaveLength(messages);
    expect(synced.messages.map((m) => m.id)).toEqual(synced.messages.map((m) => m.id).sort());
    expect(drops).toEqual(['total']);
  });

  it('says so once for each bound it reaches', async () => {
    const { store, drops } = boundedStore({ maxMessagesPerConversation: 3, maxBytes: 3000 });
    for (const message of conversation(10, 'erin')) await store.appendMessage(message, ['alice', 'erin']);
    expect(drops).toEqual(['conversation']);
    for (const to of ['fay', 'gus', 'hal', 'ida', 'jon']) {
      for (const message of conversation(3, to)) await store.appendMessage({ ...message, id: message.id.replace(/^./, '1') }, ['alice', to]);
    }
    expect(drops).toEqual(['conversation', 'total']);
  });

  it('pages sync over what is kept with next, and forgets conversations dropped entirely', async () => {
    const { store } = boundedStore({ maxMessagesPerConversation: 1000, maxBytes: 8_000 });
    const old = conversation(3, 'dora');
    for (const message of old) await store.appendMessage(message, ['alice', 'dora']);
    const recent = conversation(60, 'bob').map((m) => ({ ...m, id: m.id.replace(/^./, '1') }));
    for (const message of recent) await store.appendMessage(message, ['alice', 'bob']);
    expect(await store.history(old[0]?.conv ?? '', { limit: 10 })).toEqual({ messages: [], more: false });
    expect(await store.sync('dora', { limit: 10 })).toEqual({ messages: [], next: null });
    const pages: ChatMessage[][] = [];
    let since: string | undefined;
    for (;;) {
      const page = await store.sync('alice', since === undefined ? { limit: 7 } : { since, limit: 7 });
      pages.push(page.messages);
      if (page.next === null) break;
      since = page.next;
    }
    const kept = store.usage().messages;
    expect(pages.flat()).toEqual(recent.slice(60 - kept));
  });

  it('stays bounded under a long stream of messages to ever new conversations', async () => {
    const { store } = boundedStore({ maxMessagesPerConversation: 50, maxBytes: 256 * 1024 });
    for (let i = 0; i < 20_000; i++) {
      // Digits are ULID characters and sort like the numbers they pad; ulid itself is slow for 20,000.
      const id = String(i).padStart(26, '0');
      const to = { user: `user-${i % 3000}` };
      await store.appendMessage({ id, conv: conversationId('alice', to), from: 'alice', to, text: 'z'.repeat(i % 300), ts: EPOCH + i }, ['alice', to.user]);
    }
    const usage = store.usage();
    expect(usage.bytes).toBeLessThanOrEqual(256 * 1024);
    expect(usage.conversations).toBeLessThanOrEqual(usage.messages);
    const synced = await store.sync('alice', { limit: 200 });
    expect(synced.messages).toHaveLength(200);
    expect(synced.next).not.toBeNull();
  });

  it('stores a retried append once', async () => {
    const { store } = boundedStore({ maxMessagesPerConversation: 10, maxBytes: 1024 * 1024 });
    const [message] = conversation(1) as [ChatMessage];
    await store.appendMessage(message, ['alice', 'bob']);
    await store.appendMessage(message, ['alice', 'bob']);
    expect(store.usage().messages).toBe(1);
    expect((await store.history(message.conv, { limit: 10 })).messages).toEqual([message]);
  });
});

describe('the embedded store\'s groups', () => {
  it('refuses a group past MAX_EMBEDDED_GROUPS with unavailable, saying why, and keeps every group it has', async () => {
    const store = new MemoryStore();
    for (let i = 0; i < MAX_EMBEDDED_GROUPS; i++) expect(await store.createGroup({ name: `g${i}`, createdBy: 'alice', createdAt: i })).toBe(true);
    await expect(store.createGroup({ name: 'one-too-many', createdBy: 'alice', createdAt: 0 })).rejects.toMatchObject({ code: 'unavailable', message: expect.stringContaining(`${MAX_EMBEDDED_GROUPS} groups`) as unknown });
    expect(await store.getGroup('g0')).toMatchObject({ name: 'g0' });
    // An existing name still answers "taken", not "full".
    expect(await store.createGroup({ name: 'g1', createdBy: 'bob', createdAt: 0 })).toBe(false);
  });

  it('refuses a membership past MAX_EMBEDDED_MEMBERSHIPS; leaving makes room again, and joining twice counts once', async () => {
    const store = new MemoryStore();
    await store.createGroup({ name: 'big', createdBy: 'alice', createdAt: 0 });
    for (let i = 0; i < MAX_EMBEDDED_MEMBERSHIPS; i++) await store.addMember('big', `u${i}`);
    await store.addMember('big', 'u0');
    await expect(store.addMember('big', 'late')).rejects.toMatchObject({ code: 'unavailable' });
    await store.removeMember('big', 'u1');
    await store.addMember('big', 'late');
    expect(await store.isMember('big', 'late')).toBe(true);
    expect(await store.isMember('big', 'u1')).toBe(false);
  });
});
