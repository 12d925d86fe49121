import type { ChatNode } from '../chat/chat-node.js';
import type { ClientConnection } from '../chat/local-sockets.js';
import type { ClientFrame, ServerFrame } from '../protocol/frames.js';

/**
 * Frames whose only effect is their reply (or a typing hint): once the client has gone
 * there is no one to answer, and a node taking back thousands of sockets at once would
 * spend its store and bus reads on clients that gave up waiting. Frames that change
 * something (a send, a group change) still run: their client may be back to ask. Every
 * frame type is listed, so a new one cannot be added without this decision.
 */
const ONLY_ANSWERED: Readonly<Record<ClientFrame['type'], boolean>> = {
  send: false,
  'group.create': false,
  'group.join': false,
  'group.leave': false,
  'group.members': true,
  groups: true,
  history: true,
  sync: true,
  'presence.watch': true,
  typing: true,
};

/** True when the frame is worth running only while its socket is open. */
export function onlyAnswered(frame: ClientFrame): boolean {
  return ONLY_ANSWERED[frame.type];
}

/**
 * Runs one parsed client frame for the socket's user and returns the reply, if the
 * frame has one. `send` replies with its ack through the connection as soon as the
 * message is durable and hands its routing to `routeLater`, so it returns nothing here.
 */
export async function answerFrame(
  node: ChatNode,
  connection: ClientConnection,
  frame: ClientFrame,
  routeLater: (route: () => Promise<void>) => void,
): Promise<ServerFrame | undefined> {
  const { user } = connection;
  const ops = node.operations;
  const ref = frame.ref;
  switch (frame.type) {
    case 'send': {
      const { ack, route } = await ops.send(user, frame, { exceptSession: connection.session });
      connection.send({ type: 'ack', ref, ...ack });
      if (route !== undefined) routeLater(route);
      return undefined;
    }
    case 'group.create':
      return { type: 'group', ref, group: await ops.createGroup(user, frame.name) };
    case 'group.join':
      await ops.joinGroup(user, frame.group);
      return { type: 'ok', ref };
    case 'group.leave':
      await ops.leaveGroup(user, frame.group);
      return { type: 'ok', ref };
    case 'group.members':
      return { type: 'members', ref, group: frame.group, members: await ops.members(user, frame.group) };
    case 'groups':
      return { type: 'groups', ref, groups: await ops.groups(user) };
    case 'history': {
      const page = await ops.history(user, frame.conv, { before: frame.before, limit: frame.limit });
      return { type: 'history', ref, messages: page.messages, more: page.more };
    }
    case 'sync': {
      const page = await ops.sync(user, frame.since);
      if (page.completedAt !== undefined) node.cursors.synced(connection, page.completedAt.floor);
      return { type: 'sync', ref, messages: page.messages, next: page.next, cursor: page.cursor };
    }
    case 'presence.watch':
      // The hub sends the reply itself: changes heard while it was due must follow it.
      await node.presence.watch(connection, frame.users, (users) => {
        connection.send({ type: 'presence', ref, users });
      });
      return undefined;
    case 'typing':
      await ops.typing(user, frame.to, connection.session);
      return undefined;
  }
}
