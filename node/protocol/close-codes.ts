/**
 * The WebSocket close codes of PROTOCOL.md, in one place. 1007 (a text frame that is not
 * UTF-8) and 1009 (a frame over the size limit) are sent by `ws` itself.
 */

/** The node is draining: "going away" (RFC 6455). */
export const CLOSE_GOING_AWAY = 1001;
/** A text frame that is not valid UTF-8 (sent by ws). */
export const CLOSE_INVALID_PAYLOAD = 1007;
/** Sustained abuse: too many bad or rate-limited frames. */
export const CLOSE_POLICY_VIOLATION = 1008;
/** A frame over the size limit (sent by ws). */
export const CLOSE_TOO_BIG = 1009;
/** The node cannot serve the socket now (a dependency is down): "try again later". */
export const CLOSE_TRY_AGAIN_LATER = 1013;
/** The token expired while the socket was open. */
export const CLOSE_TOKEN_EXPIRED = 4401;

/** What a close code means to a person reading a client's error, in words. */
export function closeMeaning(code: number): string {
  switch (code) {
    case CLOSE_GOING_AWAY:
      return 'the node is going away (draining)';
    case CLOSE_INVALID_PAYLOAD:
      return 'a frame was not valid UTF-8';
    case CLOSE_POLICY_VIOLATION:
      return 'too many bad or rate-limited frames';
    case CLOSE_TOO_BIG:
      return 'a frame was larger than the node accepts (CHAT_MAX_FRAME_BYTES, 64 KiB by default)';
    case CLOSE_TRY_AGAIN_LATER:
      return 'the node cannot serve sockets now (a dependency is down); try again later';
    case CLOSE_TOKEN_EXPIRED:
      return 'the token expired';
    case 1006:
      return 'the connection was lost';
    default:
      return 'the connection was closed';
  }
}
