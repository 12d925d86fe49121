import { useEffect } from 'preact/hooks';
import type { ChatModel } from '../model/chat-model.js';
import { unreadCount } from '../model/conversation-list.js';
import { ConversationView } from './conversation-view.js';
import { Problems } from './problems.js';
import { Sidebar } from './sidebar.js';
import { StatusBar } from './status-bar.js';
import { useView } from './use-view.js';

/** The signed-in page. */
export function App(props: { model: ChatModel; onSignOut: () => void }) {
  const { model } = props;
  const view = useView(model);
  useEffect(() => {
    const timer = setInterval(() => {
      model.expire();
    }, 1000);
    return () => {
      clearInterval(timer);
    };
  }, [model]);
  // The tab's title counts what is unread (the open conversation too while the tab is hidden),
  // so a background tab shows that something came.
  let unread = 0;
  for (const conversation of view.conversations.values()) unread += unreadCount(conversation, view.me, view.readUpTo[conversation.conv]);
  useEffect(() => {
    document.title = unread > 0 ? `(${unread}) ChatCluster` : 'ChatCluster';
  }, [unread]);
  return (
    <div class={view.active === undefined ? 'app' : 'app has-active'}>
      <StatusBar view={view} onSignOut={props.onSignOut} />
      <Problems view={view} model={model} />
      <div class="panes">
        <Sidebar view={view} model={model} />
        <ConversationView view={view} model={model} />
      </div>
    </div>
  );
}
