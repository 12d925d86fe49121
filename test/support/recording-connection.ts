import type { ServerFrame } from '../../node/protocol/frames.js';
import { EncodedFrame, type ClientConnection } from '../../node/chat/local-sockets.js';

/** A socket as the chat node sees it, keeping every frame sent to it (encoded ones as their frame). */
export function recordingConnection(user: string, session: string): { connection: ClientConnection; frames: ServerFrame[] } {
  const frames: ServerFrame[] = [];
  const connection: ClientConnection = {
    user,
    session,
    send: (frame) => frames.push(frame instanceof EncodedFrame ? frame.frame : frame),
    close: () => undefined,
  };
  return { connection, frames };
}
