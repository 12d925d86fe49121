import { describe, expect, it } from 'vitest';
import { reconnectDelay } from '../../../node/protocol/reconnect-delay.js';
import { harness, message } from './fake-node.js';

describe('the web client’s protocol connection', () => {
  it('syncs from 0 on its first connection, walks every page, and keeps the last page’s cursor', () => {
    const h = harness();
    h.connection.start();
    h.socket().hello();
    expect(h.socket().last()).toMatchObject({ type: 'sync', since: 0 });
    h.socket().receive({ type: 'sync', messages: [message('01A')], next: 'p1.x.01A', cursor: 'c1.page' });
    expect(h.socket().last()).toMatchObject({ type: 'sync', since: 'p1.x.01A' });
    expect(h.connection.state.kind).toBe('syncing');
    h.socket().receive({ type: 'sync', messages: [message('01B')], next: null, cursor: 'c1.final' });
    expect(h.connection.state).toEqual({ kind: 'online', node: 'n1' });
    expect(h.connection.keptCursor).toBe('c1.final');
    expect(h.received.map((m) => m.id)).toEqual(['01A', '01B']);
  });

  it('reconnects after a lost socket with a growing, jittered delay, and syncs from the kept cursor', () => {
    const h = harness();
    h.connection.start();
    h.socket().hello();
    h.socket().receive({ type: 'sync', messages: [], next: null, cursor: 'c1.one' });
    h.socket().receive({ type: 'message', ...message('01C'), cursor: 'c1.two' });
    h.socket().handlers.close(1006);
    expect(h.connection.state).toEqual({ kind: 'waiting', reason: 'lost', retryInMs: reconnectDelay(1, 0.5), attempt: 1 });
    h.advance(reconnectDelay(1, 0.5) - 1);
    expect(h.sockets).toHaveLength(1);
    h.advance(1);
    expect(h.sockets).toHaveLength(2);
    // The second attempt fails before hello: it waits longer.
    h.socket().handlers.close(1006);
    expect(h.connection.state).toMatchObject({ kind: 'waiting', retryInMs: reconnectDelay(2, 0.5), attempt: 2 });
    expect(reconnectDelay(2, 0.5)).toBeGreaterThan(reconnectDelay(1, 0.5));
    h.advance(reconnectDelay(2, 0.5));
    h.socket().hello('n2');
    expect(h.socket().last()).toMatchObject({ type: 'sync', since: 'c1.two' });
  });

  it('hands on each message once, whether it came live, by sync or again after a reconnect', () => {
    const h = harness();
    h.connection.start();
    h.socket().hello();
    h.socket().receive({ type: 'message', ...message('01D') });
    h.socket().receive({ type: 'sync', messages: [message('01D'), message('01E')], next: null, cursor: 'c1.a' });
    h.socket().handlers.close(1006);
    h.advance(60_000);
    h.socket().hello();
    h.socket().receive({ type: 'sync', messages: [message('01E'), message('01F')], next: null, cursor: 'c1.b' });
    expect(h.received.map((m) => m.id)).toEqual(['01D', '01E', '01F']);
  });

  it('keeps its cursor when a message frame carries none (the socket has not synced yet)', () => {
    const h = harness();
    h.connection.start();
    h.socket().hello();
    h.socket().receive({ type: 'sync', messages: [], next: null, cursor: 'c1.kept' });
    h.socket().receive({ type: 'message', ...message('01G') });
    expect(h.connection.keptCursor).toBe('c1.kept');
  });

  it('honours drain: reconnects after the node’s delay, not before, and with no backoff', () => {
    const h = harness();
    h.connection.start();
    h.socket().hello();
    h.socket().receive({ type: 'drain', reconnectAfterMs: 700 });
    expect(h.connection.state).toMatchObject({ kind: 'waiting', reason: 'drain', retryInMs: 700 });
    h.advance(699);
    expect(h.sockets).toHaveLength(1);
    h.advance(1);
    expect(h.sockets).toHaveLength(2);
    expect(h.sockets[0]?.closed).toBe(true);

    // The node may close first; the client still waits for the delay it was given.
    const early = harness();
    early.connection.start();
    early.socket().hello();
    early.socket().receive({ type: 'drain', reconnectAfterMs: 700 });
    early.socket().handlers.close(1001);
    early.advance(699);
    expect(early.sockets).toHaveLength(1);
    early.advance(1);
    expect(early.sockets).toHaveLength(2);
  });

  it('sends each message until acked, with the same idem on every try, and shows it once', () => {
    const h = harness();
    h.connection.start();
    const idem = h.connection.send({ user: 'bob' }, 'hi');
    expect(h.pending()).toEqual([{ idem, to: { user: 'bob' }, conv: 'dm:alice:bob', text: 'hi', status: 'sending' }]);
    h.socket().hello();
    const first = h.socket().written.find((frame) => frame.type === 'send');
    expect(first).toMatchObject({ idem, text: 'hi' });
    // The socket dies before the ack: the next socket sends it again, before syncing.
    h.socket().handlers.close(1006);
    h.advance(60_000);
    h.socket().hello();
    expect(h.socket().written.map((frame) => frame.type)).toEqual(['send', 'sync']);
    expect(h.socket().written[0]).toMatchObject({ idem, ref: first?.ref });
    h.socket().receive({ type: 'ack', ref: first?.ref, id: '01H', ts: 5, conv: 'dm:alice:bob' });
    h.socket().receive({ type: 'sync', messages: [{ ...message('01H', 'hi'), from: 'alice' }], next: null, cursor: 'c1.c' });
    expect(h.pending()).toEqual([]);
    expect(h.received).toEqual([{ id: '01H', conv: 'dm:alice:bob', from: 'alice', to: { user: 'bob' }, text: 'hi', ts: 5 }]);
  });

  it('marks a refused send failed with its code, and a retry sends it with the same idem', () => {
    const h = harness();
    h.connection.start();
    h.socket().hello();
    const idem = h.connection.send({ group: 'team' }, 'fast');
    const sent = h.socket().last();
    h.socket().receive({ type: 'error', ref: sent.ref, code: 'rate_limited', message: 'slow down' });
    expect(h.pending()).toMatchObject([{ idem, status: 'failed', error: { code: 'rate_limited' } }]);
    h.connection.retry(idem);
    expect(h.socket().last()).toMatchObject({ type: 'send', idem, text: 'fast' });
    expect(h.pending()).toMatchObject([{ idem, status: 'sending' }]);
  });

  it('fails the oversized send when the node closes with 1009, and does not resend it', () => {
    const h = harness();
    h.connection.start();
    h.socket().hello();
    h.connection.send({ user: 'bob' }, 'small');
    const big = h.connection.send({ user: 'bob' }, 'x'.repeat(1000));
    h.socket().handlers.close(1009);
    expect(h.pending().find((send) => send.idem === big)).toMatchObject({ status: 'failed', error: { code: 'too_large' } });
    h.advance(60_000);
    h.socket().hello();
    const resent = h.socket().written.flatMap((frame) => (frame.type === 'send' ? [frame.text] : []));
    expect(resent).toEqual(['small']);
  });

  it('signs out when the token expires (4401) or a refused upgrade turns out to be the token', async () => {
    const expired = harness();
    expired.connection.start();
    expired.socket().hello();
    expired.socket().handlers.close(4401);
    expect(expired.connection.state.kind).toBe('signed-out');

    const refused = harness({ tokenAccepted: false });
    refused.connection.start();
    refused.socket().handlers.close(1006);
    await Promise.resolve();
    expect(refused.connection.state.kind).toBe('signed-out');
    refused.advance(60_000);
    expect(refused.sockets).toHaveLength(1);
  });

  it('answers requests by ref and fails them when the socket is lost', async () => {
    const h = harness();
    h.connection.start();
    h.socket().hello();
    const groups = h.connection.request({ type: 'groups' });
    h.socket().receive({ type: 'groups', ref: h.socket().last().ref, groups: ['team'] });
    await expect(groups).resolves.toMatchObject({ groups: ['team'] });
    const members = h.connection.request({ type: 'group.members', group: 'team' });
    h.socket().receive({ type: 'error', ref: h.socket().last().ref, code: 'forbidden', message: 'not a member' });
    await expect(members).rejects.toMatchObject({ code: 'forbidden' });
    const lost = h.connection.request({ type: 'groups' });
    h.socket().handlers.close(1006);
    await expect(lost).rejects.toMatchObject({ code: 'connection' });
  });

  it('watches presence again after every reconnect', () => {
    const h = harness();
    h.connection.start();
    h.connection.watchPresence(['bob', 'carol', 'bob']);
    h.socket().hello();
    expect(h.socket().written[0]).toMatchObject({ type: 'presence.watch', users: ['bob', 'carol'] });
    h.socket().handlers.close(1006);
    h.advance(60_000);
    h.socket().hello();
    expect(h.socket().written[0]).toMatchObject({ type: 'presence.watch', users: ['bob', 'carol'] });
  });
});

describe('reconnect delays', () => {
  it('double per attempt up to the cap, drawn from the upper half', () => {
    expect(reconnectDelay(1, 0)).toBe(250);
    expect(reconnectDelay(1, 1)).toBe(500);
    expect(reconnectDelay(3, 0)).toBe(1000);
    expect(reconnectDelay(30, 1)).toBe(15_000);
    expect(reconnectDelay(30, 0)).toBe(7_500);
  });
});
