import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeMemory } from '../support/fuzz-sockets.js';
import { startNode, stopNode, tokenFor, type NodeProcess } from '../../dev/node-processes.js';

/** The embedded node's store keeps the newest messages within its bounds, whatever is sent to it. */
const STORE_BYTES = 4 * 1024 * 1024;
const PER_CONVERSATION = 50;
const TEXT_BYTES = 60_000;
/**
 * The node's old-generation heap limit in this test. Idle, it uses about 25 MiB; the flood
 * below is 50 MB of texts, so a store that kept them all would run out of heap and crash.
 */
const HEAP_LIMIT_MIB = 72;
const FLOOD_MESSAGES = 840;

interface Message {
  id: string;
  conv: string;
  text: string;
}

describe('the embedded node’s bounded store', () => {
  let node: NodeProcess;
  let alice = '';

  beforeAll(async () => {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      CHAT_EMBEDDED_MAX_BYTES: String(STORE_BYTES),
      CHAT_EMBEDDED_MAX_MESSAGES_PER_CONVERSATION: String(PER_CONVERSATION),
      CHAT_MESSAGES_PER_SECOND: '100000',
      NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --max-old-space-size=${HEAP_LIMIT_MIB}`,
    };
    delete env.CHAT_REDIS_URL;
    delete env.CHAT_CASSANDRA_CONTACT_POINTS;
    node = await startNode(env);
    alice = await tokenFor('alice');
  });
  afterAll(async () => {
    await stopNode(node);
  });

  async function api<T>(path: string, init: { method?: string; body?: unknown } = {}): Promise<T> {
    const response = await fetch(`${node.url}${path}`, {
      method: init.method ?? 'GET',
      headers: { authorization: `Bearer ${alice}`, 'content-type': 'application/json' },
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
    });
    if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
    return (await response.json()) as T;
  }

  it('keeps a conversation’s newest messages past its bound, and history pages exactly those', async () => {
    const sent: string[] = [];
    for (let i = 0; i < PER_CONVERSATION + 30; i++) sent.push((await api<{ id: string }>('/v1/messages', { method: 'POST', body: { to: { user: 'bob' }, text: `m${i}` } })).id);
    const kept: string[] = [];
    let before: string | undefined;
    for (;;) {
      const page = await api<{ messages: Message[]; more: boolean }>(`/v1/conversations/dm:alice:bob/messages?limit=20${before === undefined ? '' : `&before=${before}`}`);
      kept.push(...page.messages.map((message) => message.id));
      if (!page.more) break;
      before = page.messages.at(-1)?.id;
    }
    expect(kept).toEqual(sent.slice(-PER_CONVERSATION).reverse());
  });

  it('drops the oldest messages once the total passes its bound, logs it once, syncs what is kept and stays within a small heap', async () => {
    const settledHeap = async (): Promise<number> => {
      let smallest = Number.POSITIVE_INFINITY;
      for (let i = 0; i < 6; i++) {
        smallest = Math.min(smallest, (await nodeMemory(node.adminUrl)).heapUsedBytes);
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
      return smallest;
    };
    const heapBefore = await settledHeap();
    const sent: string[] = [];
    for (let i = 0; i < FLOOD_MESSAGES; i++) {
      const to = { user: `reader-${i % 40}` };
      sent.push((await api<{ id: string }>('/v1/messages', { method: 'POST', body: { to, text: `${i}:`.padEnd(TEXT_BYTES, 'x') } })).id);
    }
    const drops = node.output.filter((line) => line.includes('embedded store is full'));
    expect(drops).toHaveLength(1);

    // Sync walks every kept message of alice's, oldest first, and they are the newest sent.
    const synced: string[] = [];
    let since = '0';
    for (;;) {
      const page = await api<{ messages: Message[]; next: string | null; cursor: string }>(`/v1/sync?since=${since}`);
      synced.push(...page.messages.map((message) => message.id));
      if (page.next === null) break;
      since = page.next;
    }
    const flood = synced.filter((id) => sent.includes(id));
    expect(flood.length).toBeGreaterThan(10);
    expect(flood.length).toBeLessThan(STORE_BYTES / TEXT_BYTES);
    expect(flood).toEqual(sent.slice(-flood.length));

    const heapAfter = await settledHeap();
    console.log(
      `embedded store bound: ${FLOOD_MESSAGES} messages of ${TEXT_BYTES} bytes sent, ${flood.length} kept, ` +
        `heap ${(heapBefore / 1024 / 1024).toFixed(1)} -> ${(heapAfter / 1024 / 1024).toFixed(1)} MiB (limit ${HEAP_LIMIT_MIB} MiB)`,
    );
    // Alive and answering within its small heap (heap used counts garbage not yet collected, so
    // only the limit the process lives under is a firm bound).
    expect(node.child.exitCode).toBeNull();
    expect((await fetch(`${node.url}/healthz`)).status).toBe(200);
  });
});
