import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect, onTestFailed, vi } from 'vitest';
import type { Launcher } from '../../dev/env/launcher.js';
import { logTail } from '../../dev/env/process.js';
import type { NodeProcess } from '../../dev/node-processes.js';
import type { ChatCluster } from './chat-cluster.js';
import type { ChatUser, Missed, SendRecord, Traffic } from './fault-traffic.js';

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

/** On failure, prints the last lines each of a test's own servers logged (sentinels, Redis), to tell why. */
export function showServerLogsOnFailure(launcher: Launcher): void {
  onTestFailed(() => {
    const logs = launcher.path('logs');
    for (const file of readdirSync(logs).sort()) console.error(`[faults] last lines of ${file}:\n${logTail(join(logs, file), 30)}`);
  });
}

export function summary(scenario: string, figures: Record<string, unknown>): void {
  console.info(`[faults] ${scenario}: ${JSON.stringify(figures)}`);
}

/** Selects the sends started in [from, to). */
export const startedBetween = (from: number, to: number) => (send: SendRecord): boolean => send.startedAt >= from && send.startedAt < to;

/** What `expectDeliveredAfterRecovery` found: acked messages that reached a recipient only by sync. */
export interface RecoveryFigures {
  deliveriesOnlyBySync: number;
  /** When the last of those was sent (`since` when none was). */
  lastOnlyBySyncSentAt: number;
}

/**
 * The checks after a server came back under traffic: every acked message sent from
 * `liveFrom` reaches every recipient live, no socket sees a message twice, and after a
 * sync from the start nothing acked is missing anywhere.
 */
export async function expectDeliveredAfterRecovery(
  traffic: Traffic,
  members: readonly ChatUser[],
  users: readonly ChatUser[],
  liveFrom: number,
  since: number,
): Promise<RecoveryFigures> {
  const afterRecovery = startedBetween(liveFrom, Infinity);
  await vi.waitFor(() => {
    const missed = traffic.missed(members, 'live', afterRecovery);
    expect(missed, describeMissed(missed, users)).toEqual([]);
  }, { timeout: 10_000, interval: 200 });
  for (const user of users) expect(user.duplicates, `${user.name} got a message twice on one socket`).toBe(0);
  // What was acked but not delivered live (routed while the server was away) is in sync.
  for (const user of members) await user.syncFrom(undefined);
  const lost = traffic.missed(members, 'live or sync');
  expect(lost, describeMissed(lost, users)).toEqual([]);
  const onlyBySync = traffic.missed(members, 'live');
  return { deliveriesOnlyBySync: onlyBySync.length, lastOnlyBySyncSentAt: Math.max(...onlyBySync.map((miss) => miss.sentAt), since) };
}

/** How the acked messages sent from `from` on reached their recipients live. */
export interface LiveDelivery {
  /** Acked messages sent from `from` on, and recipients that should see each. */
  acked: number;
  /** Ms after `from` when live delivery resumed for good: every message sent later arrived live. */
  resumedAfterMs: number;
  /** The longest time from a send to its live arrival. */
  slowestMs: number;
  /** Deliveries (message × recipient) that arrived live more than a second after the send. */
  overOneSecond: number;
}

/** Live delivery of the acked messages sent after `from`, among `users`. */
export function liveDeliverySince(traffic: Traffic, users: readonly ChatUser[], from: number): LiveDelivery {
  const byName = new Map(users.map((user) => [user.name, user]));
  const sends = traffic.acked().filter((send) => send.startedAt >= from);
  let resumedAt = from;
  let slowestMs = 0;
  let overOneSecond = 0;
  for (const send of sends) {
    for (const name of traffic.recipientsOf(send)) {
      const arrived = byName.get(name)?.live.get(send.ack.id);
      if (arrived === undefined) resumedAt = Math.max(resumedAt, send.startedAt);
      else {
        slowestMs = Math.max(slowestMs, arrived - send.startedAt);
        if (arrived - send.startedAt > 1_000) overOneSecond += 1;
      }
    }
  }
  return { acked: sends.length, resumedAfterMs: resumedAt - from, slowestMs, overOneSecond };
}
