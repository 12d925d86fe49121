import { describe, expect, it } from 'vitest';
import { harness, message } from '../connection/fake-node.js';
import { ChatModel, type ReadMarks } from './chat-model.js';

/** A model on a fake node, its read marks in memory; `saved` is what it last stored. */
function modelOnFakeNode() {
  // The events reach `model` only once the test starts the connection.
  const node = harness({
    events: {
      state: (state) => { model.onState(state); },
      messages: (messages) => { model.onMessages(messages); },
      pending: (sends) => { model.onPending(sends); },
      typing: (from, conv) => { model.onTyping(from, conv); },
      problem: (problem) => { model.onProblem(problem); },
    },
  });
  const marks: { saved: Record<string, string> } = { saved: {} };
  const store: ReadMarks = {
    load: () => ({}),
    save: (saved) => {
      marks.saved = { ...saved };
    },
  };
  const model = new ChatModel(node.connection, 'alice', store, node.now);
  return { model, node, marks };
}

/** Connects and answers the first requests: the sync walk (empty) and `groups`. */
function online(h: ReturnType<typeof modelOnFakeNode>, groups: string[] = []): void {
  h.node.connection.start();
  h.node.socket().hello();
  h.node.socket().receive({ type: 'sync', messages: [], next: null, cursor: 'c1.a' });
  const asked = h.node.socket().written.find((frame) => frame.type === 'groups');
  h.node.socket().receive({ type: 'groups', ref: asked?.ref, groups });
}

const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

describe('the page’s chat model', () => {
  it('lists the groups it is in as conversations once online', async () => {
    const h = modelOnFakeNode();
    online(h, ['team', 'ops']);
    await settle();
    expect([...h.model.view.conversations.keys()].sort()).toEqual(['g:ops', 'g:team']);
    expect([...h.model.view.groups].sort()).toEqual(['ops', 'team']);
  });

  it('holds a message as unread until its conversation is open, then keeps the read mark', async () => {
    const h = modelOnFakeNode();
    online(h);
    h.node.socket().receive({ type: 'message', ...message('01A'), cursor: 'c1.b' });
    expect(h.model.view.conversations.get('dm:alice:bob')?.messages.size).toBe(1);
    expect(h.model.view.readUpTo['dm:alice:bob']).toBeUndefined();
    h.model.open('dm:alice:bob');
    expect(h.model.view.readUpTo['dm:alice:bob']).toBe('01A');
    expect(h.marks.saved).toEqual({ 'dm:alice:bob': '01A' });
    // Opening it asked for its latest history; older pages are offered while `more` says so.
    const asked = h.node.socket().last();
    expect(asked).toMatchObject({ type: 'history', conv: { user: 'bob' }, limit: 50 });
    h.node.socket().receive({ type: 'history', ref: asked.ref, messages: [message('01A'), message('00Z')], more: true });
    await settle();
    expect(h.model.view.conversations.get('dm:alice:bob')?.olderRemain).toBe(true);
    h.model.loadOlder('dm:alice:bob');
    expect(h.node.socket().last()).toMatchObject({ type: 'history', before: '00Z' });
  });

  it('does not mark read while the page is hidden', () => {
    const h = modelOnFakeNode();
    online(h);
    h.model.pageVisible = () => false;
    h.model.open('dm:alice:bob');
    h.node.socket().receive({ type: 'message', ...message('01B') });
    expect(h.model.view.readUpTo['dm:alice:bob']).toBeUndefined();
  });

  it('sends to the open conversation and forgets a group it left', async () => {
    const h = modelOnFakeNode();
    online(h, ['team']);
    await settle();
    h.model.open('g:team');
    h.model.send('hello team');
    expect(h.node.socket().last()).toMatchObject({ type: 'send', to: { group: 'team' }, text: 'hello team' });
    expect(h.model.view.pending).toMatchObject([{ conv: 'g:team', status: 'sending' }]);
    const leaving = h.model.leaveGroup('team');
    h.node.socket().receive({ type: 'ok', ref: h.node.socket().last().ref });
    await leaving;
    expect(h.model.view.conversations.has('g:team')).toBe(false);
    expect(h.model.view.active).toBeUndefined();
  });

  it('counts the same problem up instead of stacking it, and lets problems expire', () => {
    const h = modelOnFakeNode();
    h.model.onProblem({ code: 'rate_limited', message: 'slow down' });
    h.model.onProblem({ code: 'rate_limited', message: 'slow down' });
    h.model.onProblem({ code: 'forbidden', message: 'not a member' });
    expect(h.model.view.problems.map((problem) => [problem.text.slice(0, 12), problem.count])).toEqual([
      ['You are send', 2],
      ['Not allowed ', 1],
    ]);
    h.node.advance(20_000);
    h.model.expire();
    expect(h.model.view.problems).toEqual([]);
  });

  it('shows who is typing until 4 s pass or their message comes', () => {
    const h = modelOnFakeNode();
    online(h);
    h.node.socket().receive({ type: 'typing', from: 'bob', conv: 'dm:alice:bob' });
    expect(h.model.view.typing.get('dm:alice:bob')?.from).toBe('bob');
    h.node.socket().receive({ type: 'message', ...message('01C') });
    expect(h.model.view.typing.has('dm:alice:bob')).toBe(false);
    h.node.socket().receive({ type: 'typing', from: 'bob', conv: 'dm:alice:bob' });
    h.node.advance(4_000);
    h.model.expire();
    expect(h.model.view.typing.has('dm:alice:bob')).toBe(false);
  });
});
