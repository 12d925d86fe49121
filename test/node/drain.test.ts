import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startChatCluster, type ChatCluster } from '../support/chat-cluster.js';
import { ChatClient, type Frame } from '../support/chat-client.js';
import { testEnvironment } from '../support/env.js';
import { tokenFor } from '../../dev/node-processes.js';

const SENDS = 400;

/** Every message the receiver can sync, oldest first (all pages). */
async function syncAll(client: ChatClient): Promise<Frame[]> {
  const messages: Frame[] = [];
  let since: unknown = '0';
  for (;;) {
    const page = await client.request({ type: 'sync', since });
    messages.push(...(page.messages as Frame[]));
    if (page.next === null) return messages;
    since = page.next;
  }
}

describe('a node that drains while a client is sending', () => {
  let cluster: ChatCluster;

  beforeAll(async () => {
    cluster = await startChatCluster(testEnvironment(), 2, { CHAT_MESSAGES_PER_SECOND: '100000' });
  });
  afterAll(async () => {
    await cluster.stop();
  });

  it('answers every send it took before it closes the socket: no message is stored without its ack reaching the sender', async () => {
    const [draining, staying] = cluster.nodes;
    if (draining === undefined || staying === undefined) throw new Error('two nodes expected');
    const sender = await ChatClient.connect(draining.wsUrl, await tokenFor('drain-sender'));
    const receiver = await ChatClient.connect(staying.wsUrl, await tokenFor('drain-receiver'));
    // A burst without waiting for replies, and the drain asked for in the middle of it.
    for (let i = 0; i < SENDS; i++) sender.sendRaw(JSON.stringify({ type: 'send', ref: `s${String(i)}`, idem: `i${String(i)}`, to: { user: 'drain-receiver' }, text: `m${String(i)}` }));
    expect((await fetch(`${draining.adminUrl}/drain`, { method: 'POST' })).status).toBe(202);
    expect(await sender.closed(30_000)).toBe(1001);

    const replies = new Map(sender.frames.filter((frame) => typeof frame.ref === 'string').map((frame) => [frame.ref as string, frame]));
    const acked = new Set([...replies.values()].filter((frame) => frame.type === 'ack').map((frame) => frame.ref));
    const refused = [...replies.values()].filter((frame) => frame.type === 'error');
    const stored = (await syncAll(receiver)).filter((message) => message.from === 'drain-sender').map((message) => `s${(message.text as string).slice(1)}`);
    console.info(`[drain] ${String(SENDS)} sends: ${String(acked.size)} acked, ${String(refused.length)} refused (${[...new Set(refused.map((frame) => frame.code))].join(', ')}), ${String(SENDS - replies.size)} never read by the node; ${String(stored.length)} stored`);
    expect(acked.size).toBeGreaterThan(0);
    // What was stored was acked; what was acked was stored; what was refused says so in words.
    expect(stored.filter((ref) => !acked.has(ref))).toEqual([]);
    expect([...acked].filter((ref) => !stored.includes(ref as string))).toEqual([]);
    for (const frame of refused) expect(frame.code).toBe('unavailable');
    receiver.close();
  });
});
