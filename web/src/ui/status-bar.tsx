import type { ChatView } from '../model/chat-model.js';
import { describeState } from '../model/problem-words.js';

/** The top bar: who is signed in and the connection state in words. */
export function StatusBar(props: { view: ChatView; onSignOut: () => void }) {
  const { connection, me } = props.view;
  return (
    <header class="status-bar">
      <span class="brand">ChatCluster</span>
      <span class="me">{me}</span>
      <span role="status" class={`connection connection-${connection.kind}`} data-state={connection.kind}>
        {describeState(connection)}
      </span>
      <button type="button" class="quiet" onClick={props.onSignOut}>
        Sign out
      </button>
    </header>
  );
}
