/**
 * The wire protocol's frames as the browser sees them: the node's own types (PROTOCOL.md,
 * version 1), imported as types only, so the bundle carries none of the node's frame code
 * (zod among it). The node's modules the client does import, conversations, the close
 * codes and the reconnect delay, import nothing.
 */
import type { z } from 'zod';
import type { ClientFrame as ClientFrameSchema } from '../../../node/protocol/frames.js';
import { CLOSE_POLICY_VIOLATION, CLOSE_TOKEN_EXPIRED, CLOSE_TOO_BIG } from '../../../node/protocol/close-codes.js';

export type { ChatMessage, GroupInfo, PresenceStatus, ServerFrame, Target } from '../../../node/protocol/frames.js';
export type { ErrorCode } from '../../../node/protocol/errors.js';

/** A frame the client may send, as the node's schema accepts it (before defaults). */
export type ClientFrame = z.input<typeof ClientFrameSchema>;

/** Close codes a client acts on (PROTOCOL.md), as the node names them. */
export const CLOSE = { tooLarge: CLOSE_TOO_BIG, policy: CLOSE_POLICY_VIOLATION, tokenExpired: CLOSE_TOKEN_EXPIRED } as const;
