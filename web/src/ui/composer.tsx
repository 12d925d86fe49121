import { useState } from 'preact/hooks';
import type { ChatModel } from '../model/chat-model.js';

/** The message box: Enter sends, Shift+Enter starts a new line. */
export function Composer(props: { model: ChatModel; disabled: boolean }) {
  const [text, setText] = useState('');
  // The box's own value, not the last rendered state: keys typed fast may not be rendered yet.
  const send = (value: string): void => {
    if (value.trim() === '') return;
    props.model.send(value);
    setText('');
  };
  return (
    <form
      class="composer"
      onSubmit={(event) => {
        event.preventDefault();
        send(event.currentTarget.querySelector('textarea')?.value ?? text);
      }}
    >
      <textarea
        aria-label="Message"
        rows={2}
        placeholder="Write a message"
        value={text}
        disabled={props.disabled}
        onInput={(event) => {
          setText(event.currentTarget.value);
          props.model.typed();
        }}
        onKeyDown={(event) => {
          if (event.key === 'Enter' && !event.shiftKey) {
            event.preventDefault();
            send(event.currentTarget.value);
            event.currentTarget.value = '';
          }
        }}
      />
      <button type="submit" disabled={props.disabled}>
        Send
      </button>
    </form>
  );
}
