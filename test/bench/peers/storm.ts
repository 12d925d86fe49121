import { setTimeout as sleep } from 'node:timers/promises';
import { isAlive } from '../../../dev/env/process.js';
import { exited, pidsOf } from '../lifecycle.js';
import type { ListeningChild } from '../listening-child.js';
import type { FrameHandler } from '../bench-socket.js';
import { keptTokens, nodeAt, type StormCluster } from '../reconnect-storm.js';
import { CentrifugoLoadSocket, centrifugoToken, centrifugoUrl, type CentrifugoPosition, type CentrifugoServers } from './centrifugo.js';
import { SocketIoLoadSocket, socketIoUrl, type SocketIoPosition } from './socket-io.js';

/** The processes besides the servers whose CPU a storm reports. */
export interface StormCpu {
  redis: readonly number[];
  generator: readonly number[];
}

/**
 * How long a resuming Socket.IO client waits, once its transport is open, for the server to
 * restore its session and connect it: socket.io-client sets no limit there, and a client that
 * gave up sooner would come back to a session the restore had already taken (and lose what
 * it missed). Socket.IO keeps a session 2 minutes (its default maxDisconnectionDuration).
 */
const RESTORE_WAIT_MS = 120_000;

/** Socket.IO's name when its connection state recovery is on. */
export const SOCKET_IO_RECOVERY = 'socket.io+recovery';

/** The last of `servers` is drained; the others survive. */
function drainedAndSurvivors<T>(servers: readonly T[]): { drained: T; survivorAt: (node: number) => T; survivors: T[] } {
  const drained = servers.at(-1);
  const survivors = servers.slice(0, -1);
  if (drained === undefined || survivors.length === 0) throw new Error(`a storm needs a server to drain and one to survive, not ${servers.length}`);
  return { drained, survivorAt: (node) => nodeAt(survivors, node), survivors };
}

/** Sends SIGTERM to `pid`; a process already gone is an error (the storm would wait for a drain that never comes). */
function terminate(pid: number | undefined, what: string): Promise<void> {
  try {
    if (pid === undefined) throw new Error('it has no pid');
    process.kill(pid, 'SIGTERM');
    return Promise.resolve();
  } catch (error) {
    return Promise.reject(new Error(`could not drain ${what}: ${error instanceof Error ? error.message : String(error)}`));
  }
}

/**
 * The storm on Socket.IO servers: the last is closed as its SIGTERM handler closes it
 * (`io.close()`), and each client connects to a survivor. With connection state recovery on
 * (`recovery`, as the servers were started), every socket's session is kept in Redis at the
 * close and each client presents it on the survivor; without, it starts afresh.
 */
export function socketIoStorm(servers: readonly ListeningChild[], cpu: StormCpu, recovery: boolean): StormCluster<SocketIoPosition> {
  const { drained, survivorAt, survivors } = drainedAndSurvivors(servers);
  const open = (server: ListeningChild, user: string, onFrame: FrameHandler, resume?: SocketIoPosition): Promise<SocketIoLoadSocket> =>
    SocketIoLoadSocket.open(socketIoUrl(server), user, { recovery, onFrame, ...(resume === undefined ? {} : { resume, connectTimeoutMs: RESTORE_WAIT_MS }) });
  return {
    target: recovery ? SOCKET_IO_RECOVERY : 'socket.io',
    drainHow: recovery ? "SIGTERM: io.close() closes every socket, each one's session kept in Redis for 2 minutes" : 'SIGTERM: io.close() closes every socket',
    catchUpHow: recovery
      ? 'connection state recovery: its session id and last offset in the new handshake; the server replays what it missed from the stream (a client with no offset, or whose session is gone, gets a fresh session)'
      : 'connects again and joins its room afresh; no connection state recovery, so nothing missed is recovered',
    openOnDrained: (user, onFrame) => open(drained, user, onFrame),
    openOnSurvivor: (user, node, from, onFrame) => open(survivorAt(node), user, onFrame, from),
    openSender: (user, node) => SocketIoLoadSocket.open(socketIoUrl(survivorAt(node)), user, { recovery }),
    survivors: survivors.length,
    drain: () => terminate(drained.child.pid, 'the Socket.IO server'),
    drainedExit: () => exited(drained.child),
    cpu: { server: pidsOf(survivors), ...cpu },
  };
}

/**
 * The storm on Centrifugo servers: the last gets SIGTERM (its graceful shutdown disconnects
 * every client with a code asking it to reconnect), and each client subscribes to its
 * personal channel again on a survivor, from its last stream position when the channel keeps
 * history.
 */
export function centrifugoStorm(started: CentrifugoServers, cpu: StormCpu): StormCluster<CentrifugoPosition> {
  const { drained, survivorAt, survivors } = drainedAndSurvivors(started.servers);
  const tokenOf = keptTokens((user) => centrifugoToken(started, user));
  const open = async (server: CentrifugoServers['servers'][number], user: string, options: { onFrame?: FrameHandler; since?: CentrifugoPosition } = {}): Promise<CentrifugoLoadSocket> =>
    CentrifugoLoadSocket.open(centrifugoUrl(server), user, await tokenOf(user), options);
  const pid = drained.process.pid;
  return {
    target: started.variant.name,
    drainHow: 'SIGTERM: its graceful shutdown disconnects every client with code 3001, asking it to reconnect',
    catchUpHow: started.variant.history
      ? "connects again and subscribes to its personal channel from its last stream position; Centrifugo recovers what it missed from the channel's history in Redis"
      : 'connects again and subscribes to its personal channel; no history, so nothing missed is recovered',
    openOnDrained: (user, onFrame) => open(drained, user, { onFrame }),
    openOnSurvivor: (user, node, from, onFrame) => open(survivorAt(node), user, { onFrame, since: from }),
    openSender: (user, node) => open(survivorAt(node), user),
    survivors: survivors.length,
    drain: () => terminate(pid, 'the Centrifugo server'),
    // The launcher stops whatever is left when the scenario ends, which ends this too.
    drainedExit: async () => {
      while (isAlive(pid)) await sleep(50);
    },
    cpu: { server: survivors.map((server) => server.process.pid), ...cpu },
  };
}
