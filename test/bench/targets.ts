import { tokenFor, type NodeProcess } from '../../dev/node-processes.js';
import { BenchSocket, type LoadSocket } from './bench-socket.js';
import type { RelayProcess } from './relay-process.js';

/** What the load generator drives: chat nodes, the relay, or a peer (Socket.IO, Centrifugo). */
export interface LoadTarget {
  name: string;
  /** Processes a socket can be placed on ("nodes"); sockets of a pair go to different ones when there are several. */
  nodeCount: number;
  /** Opens an authenticated socket for `user` on node `node` (modulo nodeCount) and waits until it is ready (`hello`, or subscribed). */
  open(user: string, node: number): Promise<LoadSocket>;
}

/** Chat nodes: a JWT per user in the Authorization header, as a backend client connects; over wss:// trusting `ca` when given. */
export function chatTarget(nodes: readonly NodeProcess[], options: { name?: string; ca?: string } = {}): LoadTarget {
  return {
    name: options.name ?? 'chat',
    nodeCount: nodes.length,
    async open(user, node) {
      const target = nodes[node % nodes.length];
      if (target === undefined) throw new Error('no chat node to connect to');
      return BenchSocket.open(`${target.wsUrl}/ws`, { authorization: `Bearer ${await tokenFor(user)}` }, undefined, options.ca);
    },
  };
}

/** The relay: one process, the user as a query parameter, no credentials. */
export function relayTarget(relay: RelayProcess): LoadTarget {
  return {
    name: 'relay',
    nodeCount: 1,
    open(user) {
      return BenchSocket.open(`${relay.wsUrl}/ws?user=${encodeURIComponent(user)}`, {});
    },
  };
}
