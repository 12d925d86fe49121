import { useLayoutEffect, useRef } from 'preact/hooks';
import type { PendingSend } from '../connection/chat-connection.js';
import type { ChatMessage } from '../connection/frames.js';
import type { ChatModel } from '../model/chat-model.js';
import { describeProblem } from '../model/problem-words.js';

const TIME = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });

/**
 * The conversation's messages, oldest at the top and newest at the bottom, then the user's
 * own unacked sends (sending…, or failed with a Retry). Stays at the bottom as messages come,
 * unless the reader scrolled up.
 */
export function MessageLog(props: { me: string; messages: readonly ChatMessage[]; pending: readonly PendingSend[]; olderRemain: boolean; model: ChatModel; conv: string }) {
  const log = useRef<HTMLDivElement>(null);
  const pinned = useRef(true);
  // After every render: a message that grows (a send that failed shows its Retry) keeps the bottom in view too.
  useLayoutEffect(() => {
    const element = log.current;
    if (element !== null && pinned.current) element.scrollTop = element.scrollHeight;
  });
  return (
    <div
      ref={log}
      role="log"
      aria-label="Messages"
      class="message-log"
      onScroll={(event) => {
        const element = event.currentTarget;
        pinned.current = element.scrollHeight - element.scrollTop - element.clientHeight < 40;
      }}
    >
      {props.olderRemain && (
        <button type="button" class="quiet older" onClick={() => { props.model.loadOlder(props.conv); }}>
          Load older messages
        </button>
      )}
      {props.messages.map((message) => (
        <div key={message.id} class={message.from === props.me ? 'message own' : 'message'} data-id={message.id}>
          <span class="from">{message.from}</span>
          <span class="text">{message.text}</span>
          <span class="meta">
            <time dateTime={new Date(message.ts).toISOString()}>{TIME.format(message.ts)}</time>
            {message.from === props.me && <span class="delivery">sent</span>}
          </span>
        </div>
      ))}
      {props.pending.map((pending) => (
        <div key={pending.idem} class={`message own ${pending.status}`} data-idem={pending.idem}>
          <span class="from">{props.me}</span>
          <span class="text">{pending.text.length > 280 ? `${pending.text.slice(0, 280)}…` : pending.text}</span>
          <span class="meta">
            {pending.status === 'sending' ? (
              <span class="delivery">sending…</span>
            ) : (
              <>
                <span class="delivery failed-words">Not sent: {pending.error === undefined ? 'failed' : describeProblem(pending.error, true)}</span>
                <button type="button" onClick={() => { props.model.retry(pending.idem); }}>
                  Retry
                </button>
                <button type="button" class="quiet" onClick={() => { props.model.discard(pending.idem); }}>
                  Discard
                </button>
              </>
            )}
          </span>
        </div>
      ))}
    </div>
  );
}
