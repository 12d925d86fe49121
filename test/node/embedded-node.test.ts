import { describe, expect, it } from 'vitest';
import { describeProtocol } from '../contract/protocol-contract.js';
import { ChatClient } from '../support/chat-client.js';
import { startNode, stopNode, tokenFor } from '../support/node-processes.js';

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
