import type { SessionRecord } from '../store/store.js';

/**
 * Which node must deliver a direct message to which of its users: one bus entry per node
 * that hosts a socket of any recipient, however many sockets it hosts.
 */
export function routeToNodes(sessions: readonly SessionRecord[]): Map<string, string[]> {
  const usersByNode = new Map<string, Set<string>>();
  for (const { node, user } of sessions) {
    const users = usersByNode.get(node) ?? new Set<string>();
    usersByNode.set(node, users);
    users.add(user);
  }
  return new Map([...usersByNode].map(([node, users]) => [node, [...users].sort()]));
}

/**
 * How a group message leaves its node: delivered here when this node hosts a member, and
 * one bus entry to every other node hosting one. Each node is reached at most once.
 */
export function groupFanOut(hostingNodes: readonly string[], self: string): { local: boolean; remote: string[] } {
  const remote = [...new Set(hostingNodes)].filter((node) => node !== self).sort();
  return { local: hostingNodes.includes(self), remote };
}

/**
 * Reconnect delays for the sockets of a draining node, spread evenly over `spreadMs` so
 * they do not all land on the other nodes at once.
 */
export function reconnectDelays(count: number, spreadMs: number): number[] {
  if (count <= 0) return [];
  const step = spreadMs / count;
  return Array.from({ length: count }, (_, index) => Math.round(index * step + step / 2));
}
