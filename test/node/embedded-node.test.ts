import { describe, expect, it } from 'vitest';
import { describeProtocol } from '../contract/protocol-contract.js';
import { ChatClient } from '../support/chat-client.js';
import { startNode, stopNode, tokenFor } from '../../dev/node-processes.js';

/** The embedded node: no Redis, no Cassandra, one process. */
function embeddedEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, CHAT_MESSAGES_PER_SECOND: '20' };
  delete env.CHAT_REDIS_URL;
  delete env.CHAT_CASSANDRA_CONTACT_POINTS;
  return env;
}

describeProtocol('the embedded single node', async () => {
  const node = await startNode(embeddedEnv());
  return { nodes: [node], stop: async () => { await stopNode(node); } };
});

describe('the embedded single node', () => {
  it('says in its log that it is single-node and not durable', async () => {
    const node = await startNode(embeddedEnv());
    try {
      const warning = node.output.map((line) => JSON.parse(line) as { msg?: string }).find((entry) => entry.msg?.includes('embedded mode'));
      expect(warning?.msg).toMatch(/single self-contained node.*nothing is durable/);
    } finally {
      await stopNode(node);
    }
  });

  it('drains on SIGTERM: readyz turns 503, clients get drain then a close, the process exits 0', async () => {
    const node = await startNode(embeddedEnv());
    const client = await ChatClient.connect(node.wsUrl, await tokenFor('drained-user'));
    const exit = stopNode(node, 'SIGTERM');
    const drain = await client.waitFor((frame) => frame.type === 'drain');
    expect(drain.reconnectAfterMs).toEqual(expect.any(Number));
    expect(await client.closed()).toBe(1001);
    expect(await exit).toBe(0);
  });
});

describe('POST /drain on the admin port', () => {
  it('drains like SIGTERM: readyz stops answering 200, clients are told and closed with 1001, the process exits 0', async () => {
    const node = await startNode(embeddedEnv());
    const client = await ChatClient.connect(node.wsUrl, await tokenFor('admin-drained'));
    const exited = new Promise<number | null>((resolve) => node.child.once('exit', (code) => { resolve(code); }));
    expect((await fetch(`${node.adminUrl}/drain`, { method: 'POST' })).status).toBe(202);
    expect(await client.waitFor((frame) => frame.type === 'drain')).toMatchObject({ reconnectAfterMs: expect.any(Number) as unknown });
    const readyz = await fetch(`${node.url}/readyz`).then((response) => response.status, () => 'closed');
    expect([503, 'closed']).toContain(readyz);
    expect(await client.closed()).toBe(1001);
    expect(await exited).toBe(0);
  });
});

describe('a slow consumer', () => {
  it('is dropped once its unsent frames pass the bound, and the node keeps serving everyone else', async () => {
    const env = { ...embeddedEnv(), CHAT_MAX_BUFFERED_BYTES: String(64 * 1024), CHAT_MESSAGES_PER_SECOND: '100000' };
    const node = await startNode(env);
    try {
      const slow = await ChatClient.connect(node.wsUrl, await tokenFor('slow-reader'));
      // Stop reading: the kernel buffers fill, then the node's send buffer for this socket grows.
      (slow.socket as unknown as { _socket: { pause(): void } })._socket.pause();
      const sender = await ChatClient.connect(node.wsUrl, await tokenFor('fast-writer'));
      const text = 'x'.repeat(16 * 1024);
      let acked = 0;
      for (let i = 0; i < 400 && slow.closeCode === undefined; i++) {
        const reply = await sender.request({ type: 'send', to: { user: 'slow-reader' }, text });
        if (reply.type === 'ack') acked += 1;
      }
      (slow.socket as unknown as { _socket: { resume(): void } })._socket.resume();
      await slow.closed();
      expect(acked).toBeGreaterThan(0);
      const metrics = await (await fetch(`${node.adminUrl}/metrics`)).text();
      expect(metrics).toMatch(/^chat_slow_consumers_closed_total [1-9]/m);
      // Everyone else is still served, and the dropped reader catches up with sync.
      expect(await sender.request({ type: 'groups' })).toMatchObject({ type: 'groups' });
      const back = await ChatClient.connect(node.wsUrl, await tokenFor('slow-reader'));
      const page = await back.request({ type: 'sync', since: 0 });
      expect((page.messages as unknown[]).length).toBe(Math.min(acked, 200));
      back.close();
      sender.close();
    } finally {
      await stopNode(node);
    }
  });
});
