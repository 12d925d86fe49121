import { setTimeout as sleep } from 'node:timers/promises';
import { ChatClient } from './chat-client.js';
import { tokenFor, type NodeProcess } from '../../dev/node-processes.js';

/** What a round of traffic did, as the clients saw it. */
export interface TrafficTally {
  /** Direct messages acked. */
  direct: number;
  /** Group messages acked. */
  group: number;
  /** Live `message` frames the members received. */
  delivered: number;
  /** History reads answered. */
  historyReads: number;
  /** Connections refused for a bad token. */
  authFailures: number;
  /** Sends refused with `rate_limited`. */
  rateLimited: number;
  /** Sends refused with `forbidden`. */
  forbidden: number;
}

/**
 * Light, varied traffic across `nodes` (at least three) for `durationMs`: users on
 * different nodes exchange direct and group messages and read history twice a second,
 * and every ten seconds one client connects with a bad token to each node, an outsider
 * sends to a group it is not in, and a spammer sends a burst of three times `ratePerSecond`
 * messages at once. Every send and read is awaited; a failure other than the expected
 * refusals fails the traffic.
 */
export async function runLightTraffic(nodes: readonly NodeProcess[], durationMs: number, ratePerSecond: number, prefix: string): Promise<TrafficTally> {
  const [first, second, third] = nodes;
  if (first === undefined || second === undefined || third === undefined) throw new Error('light traffic needs three nodes');
  const tally: TrafficTally = { direct: 0, group: 0, delivered: 0, historyReads: 0, authFailures: 0, rateLimited: 0, forbidden: 0 };
  const connect = async (user: string, node: NodeProcess): Promise<ChatClient> => ChatClient.connect(node.wsUrl, await tokenFor(`${prefix}-${user}`));
  const [alice, bob, carol, outsider, spammer] = await Promise.all([
    connect('alice', first),
    connect('bob', second),
    connect('carol', third),
    connect('outsider', second),
    connect('spammer', third),
  ]);
  const members = [alice, bob, carol];
  const group = `${prefix}-room`;
  const expectReply = async (client: ChatClient, frame: Record<string, unknown>, type: string): Promise<void> => {
    const reply = await client.request(frame);
    if (reply.type !== type) throw new Error(`${JSON.stringify(frame)} answered ${JSON.stringify(reply)}, expected ${type}`);
  };
  try {
    await expectReply(alice, { type: 'group.create', name: group }, 'group');
    await expectReply(bob, { type: 'group.join', group }, 'ok');
    await expectReply(carol, { type: 'group.join', group }, 'ok');

    const refusals = async (): Promise<void> => {
      for (const node of nodes) {
        const refused = await ChatClient.connect(node.wsUrl, 'not-a-valid-token').then(
          (client) => {
            client.close();
            return false;
          },
          () => true,
        );
        if (!refused) throw new Error(`node ${node.id} accepted a bad token`);
        tally.authFailures += 1;
      }
      const intrusion = await outsider.request({ type: 'send', to: { group }, text: 'let me in' });
      if (intrusion.code !== 'forbidden') throw new Error(`a send to a group the user is not in answered ${JSON.stringify(intrusion)}`);
      tally.forbidden += 1;
      const burst = await Promise.all(
        Array.from({ length: 3 * ratePerSecond }, (_, index) => spammer.request({ type: 'send', to: { user: `${prefix}-alice` }, text: `spam ${index}` })),
      );
      tally.rateLimited += burst.filter((reply) => reply.code === 'rate_limited').length;
    };

    const started = Date.now();
    let nextRefusals = started;
    for (let tick = 0; Date.now() - started < durationMs; tick++) {
      if (Date.now() >= nextRefusals) {
        await refusals();
        nextRefusals += 10_000;
      }
      await Promise.all([
        expectReply(alice, { type: 'send', to: { user: `${prefix}-bob` }, text: `a→b ${tick}` }, 'ack').then(() => (tally.direct += 1)),
        expectReply(bob, { type: 'send', to: { user: `${prefix}-carol` }, text: `b→c ${tick}` }, 'ack').then(() => (tally.direct += 1)),
        expectReply(carol, { type: 'send', to: { group }, text: `c→room ${tick}` }, 'ack').then(() => (tally.group += 1)),
        expectReply(alice, { type: 'history', conv: { group }, limit: 10 }, 'history').then(() => (tally.historyReads += 1)),
      ]);
      await sleep(500);
    }
    // Let the last messages arrive before counting what was delivered.
    await sleep(1000);
    tally.delivered = members.reduce((sum, client) => sum + client.messages().length, 0);
    return tally;
  } finally {
    for (const client of [alice, bob, carol, outsider, spammer]) client.close();
  }
}
