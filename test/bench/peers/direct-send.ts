/** The parts of a chat `send` frame to a user that a peer carries; other frames have no equivalent there. */
export function directSend(frame: Record<string, unknown>): { ref: string; to: string; text: string } {
  const to = frame.to as { user?: unknown } | undefined;
  if (frame.type !== 'send' || typeof frame.ref !== 'string' || typeof to?.user !== 'string' || typeof frame.text !== 'string') {
    throw new Error(`a peer carries direct sends only, not ${JSON.stringify(frame).slice(0, 120)}`);
  }
  return { ref: frame.ref, to: to.user, text: frame.text };
}

/**
 * What a peer with rooms (Socket.IO) does for a chat frame of scenario 3: a group's members
 * are the sockets that joined the room `g:<group>` (user ids hold no ':', so no user's own
 * room has that name); creating a group is joining its room; a group `send` goes to the room.
 */
export type RoomRequest =
  | { kind: 'send'; ref: string; room: string; text: string; exceptSender: boolean }
  | { kind: 'join'; ref: string; room: string; reply: 'group' | 'ok' };

export function roomRequest(frame: Record<string, unknown>): RoomRequest {
  const ref = typeof frame.ref === 'string' ? frame.ref : '';
  const to = frame.to as { group?: unknown } | undefined;
  if (frame.type === 'send' && typeof to?.group === 'string' && typeof frame.text === 'string') {
    // A chat group message reaches every member's sockets but the sender's own.
    return { kind: 'send', ref, room: groupRoom(to.group), text: frame.text, exceptSender: true };
  }
  if (frame.type === 'group.create' && typeof frame.name === 'string') return { kind: 'join', ref, room: groupRoom(frame.name), reply: 'group' };
  if (frame.type === 'group.join' && typeof frame.group === 'string') return { kind: 'join', ref, room: groupRoom(frame.group), reply: 'ok' };
  const direct = directSend(frame);
  return { kind: 'send', ref: direct.ref, room: direct.to, text: direct.text, exceptSender: false };
}

function groupRoom(group: string): string {
  return `g:${group}`;
}
