/** Conversation ids as the node builds and reads them: one module serves both. */
export { conversationId as conversationOf, conversationTarget as targetOf } from '../../../node/protocol/conversations.js';
