import { expect, onTestFailed } from 'vitest';
import type { NodeProcess } from '../../dev/node-processes.js';
import type { ChatCluster } from './chat-cluster.js';
import type { ChatUser, Missed, SendRecord } from './fault-traffic.js';

// What the fault tests check and print, shared by the tests that break a server under traffic.

/** The HTTP status of a node's /readyz (0 when it does not answer). */
export async function readiness(node: NodeProcess): Promise<number> {
  return fetch(`${node.url}/readyz`, { signal: AbortSignal.timeout(3_000) }).then(
    (response) => response.status,
    () => 0,
  );
}

export function nodeAt(cluster: ChatCluster, index: number): NodeProcess {
  const node = cluster.nodes[index];
  if (node === undefined) throw new Error(`the cluster has no node ${index}`);
  return node;
}

/** Creates `group` as its first user and has the others join it. */
export async function formGroup(group: string, members: readonly ChatUser[]): Promise<void> {
  const [owner, ...others] = members;
  if (owner === undefined) throw new Error('a group needs a member');
  expect(await owner.request({ type: 'group.create', name: group })).toMatchObject({ type: 'group' });
  for (const member of others) expect(await member.request({ type: 'group.join', group })).toMatchObject({ type: 'ok' });
}

/** Readable lines for messages someone missed, for a failure message. */
export function describeMissed(missed: readonly Missed[], users: readonly ChatUser[]): string {
  const cursors = new Map(users.map((user) => [user.name, user.reconnections.map((reconnection) => reconnection.since ?? '0')]));
  return missed
    .slice(0, 20)
    .map((miss) => `${miss.user} missed ${miss.id} (${miss.conv}, sent at ${new Date(miss.sentAt).toISOString()}; synced since ${JSON.stringify(cursors.get(miss.user) ?? [])})`)
    .join('\n');
}

/** On failure, prints the last lines each node logged, to tell why. */
export function showNodeLogsOnFailure(nodes: readonly NodeProcess[]): void {
  onTestFailed(() => {
    for (const node of nodes) {
      const tail = node.output.slice(-40).map((line) => line.slice(0, 400));
      console.error(`[faults] last lines of ${node.id}:\n${tail.join('\n')}`);
    }
  });
}

export function summary(scenario: string, figures: Record<string, unknown>): void {
  console.info(`[faults] ${scenario}: ${JSON.stringify(figures)}`);
}

/** Selects the sends started in [from, to). */
export const startedBetween = (from: number, to: number) => (send: SendRecord): boolean => send.startedAt >= from && send.startedAt < to;
