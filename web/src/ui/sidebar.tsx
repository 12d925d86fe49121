import { useState } from 'preact/hooks';
import { targetOf } from '../connection/conversations.js';
import type { ChatModel, ChatView } from '../model/chat-model.js';
import { byRecentActivity, unreadCount } from '../model/conversation-list.js';
import { PresenceDot } from './presence-dot.js';

/** A conversation's title: the other person, or `#group`. */
export function conversationTitle(me: string, conv: string): string {
  const target = targetOf(me, conv);
  if (target === undefined) return conv;
  return 'group' in target ? `#${target.group}` : target.user;
}

/** Starting a direct chat, creating or joining a group, and the list of conversations. */
export function Sidebar(props: { view: ChatView; model: ChatModel }) {
  const { view, model } = props;
  const [person, setPerson] = useState('');
  const [group, setGroup] = useState('');
  const conversations = byRecentActivity([...view.conversations.values()]);
  return (
    <nav class="sidebar" aria-label="Chats">
      <form
        class="inline-form"
        onSubmit={(event) => {
          event.preventDefault();
          if (person.trim() === '') return;
          model.openDirect(person.trim());
          setPerson('');
        }}
      >
        <input aria-label="Chat with user" placeholder="user id" value={person} onInput={(event) => { setPerson(event.currentTarget.value); }} />
        <button type="submit">Chat</button>
      </form>
      <form
        class="inline-form"
        onSubmit={(event) => {
          event.preventDefault();
          const name = group.trim();
          if (name === '') return;
          const join = (event.submitter as HTMLButtonElement | null)?.value === 'join';
          void (join ? model.joinGroup(name) : model.createGroup(name));
          setGroup('');
        }}
      >
        <input aria-label="Group name" placeholder="group" value={group} onInput={(event) => { setGroup(event.currentTarget.value); }} />
        <button type="submit" value="create">
          Create
        </button>
        <button type="submit" value="join">
          Join
        </button>
      </form>
      <ul class="conversations" aria-label="Conversations">
        {conversations.map((conversation) => {
          const target = targetOf(view.me, conversation.conv);
          const unread = unreadCount(conversation, view.me, view.readUpTo[conversation.conv]);
          const title = conversationTitle(view.me, conversation.conv);
          const active = conversation.conv === view.active;
          return (
            <li key={conversation.conv}>
              <button
                type="button"
                class={active ? 'conversation active' : 'conversation'}
                aria-current={active ? 'true' : undefined}
                onClick={() => { model.open(conversation.conv); }}
              >
                {target !== undefined && 'user' in target ? <PresenceDot user={target.user} status={view.presence[target.user]} /> : <span class="group-mark" aria-hidden="true" />}
                <span class="title">{title}</span>
                {unread > 0 && !active && (
                  <span class="unread">
                    <span aria-hidden="true">{unread}</span>
                    <span class="visually-hidden">, {unread} unread</span>
                  </span>
                )}
              </button>
            </li>
          );
        })}
      </ul>
    </nav>
  );
}
