import { targetOf } from '../connection/conversations.js';
import type { ChatModel, ChatView } from '../model/chat-model.js';
import { oldestFirst } from '../model/conversation-list.js';
import { Composer } from './composer.js';
import { MessageLog } from './message-log.js';
import { PresenceDot } from './presence-dot.js';
import { conversationTitle } from './sidebar.js';

/** The open conversation: its title and actions, members, the log, who is typing, the composer. */
export function ConversationView(props: { view: ChatView; model: ChatModel }) {
  const { view, model } = props;
  const conv = view.active;
  const conversation = conv === undefined ? undefined : view.conversations.get(conv);
  if (conv === undefined || conversation === undefined) {
    return (
      <section class="conversation-view empty" aria-label="Conversation">
        <p>Choose a conversation, start a chat with a user id, or create or join a group.</p>
      </section>
    );
  }
  const target = targetOf(view.me, conv);
  const group = target !== undefined && 'group' in target ? target.group : undefined;
  const typing = view.typing.get(conv);
  const members = view.members?.group === group ? view.members : undefined;
  return (
    <section class="conversation-view" aria-label={conversationTitle(view.me, conv)}>
      <header class="conversation-header">
        <h2>
          {target !== undefined && 'user' in target && <PresenceDot user={target.user} status={view.presence[target.user]} />}
          {conversationTitle(view.me, conv)}
        </h2>
        {group !== undefined && (
          <span class="actions">
            <button type="button" class="quiet" onClick={() => {
                if (members === undefined) void model.showMembers(group);
                else model.hideMembers();
              }}>
              Members
            </button>
            <button type="button" class="quiet" onClick={() => void model.leaveGroup(group)}>
              Leave
            </button>
          </span>
        )}
      </header>
      {members !== undefined && (
        <ul class="members" aria-label="Members">
          {members.members.map((member) => (
            <li key={member}>
              <PresenceDot user={member} status={member === view.me ? 'online' : view.presence[member]} />
              {member}
            </li>
          ))}
        </ul>
      )}
      <MessageLog
        me={view.me}
        conv={conv}
        model={model}
        messages={oldestFirst(conversation)}
        pending={view.pending.filter((pending) => pending.conv === conv)}
        olderRemain={conversation.olderRemain === true}
      />
      <p class="typing" aria-live="polite">
        {typing === undefined ? '' : `${typing.from} is typing…`}
      </p>
      <Composer model={model} disabled={false} />
    </section>
  );
}
