import { describe, expect, it } from 'vitest';
import type { Frame } from '../bench/bench-socket.js';
import { HeldFrames, peerRequest, replyTo } from '../bench/peers/chat-frames.js';

describe('what a bench peer makes of the generator’s chat frames', () => {
  it('maps direct and group sends, group.create and group.join, each to the reply chat would give', () => {
    const direct = peerRequest({ type: 'send', ref: 'r1', to: { user: 'bob' }, text: 'hi' });
    expect(direct).toEqual({ kind: 'send', ref: 'r1', to: { user: 'bob' }, text: 'hi' });
    const group = peerRequest({ type: 'send', ref: 'r2', to: { group: 'team' }, text: 'all' });
    expect(group).toEqual({ kind: 'send', ref: 'r2', to: { group: 'team' }, text: 'all' });
    const create = peerRequest({ type: 'group.create', ref: 'r3', name: 'team' });
    const join = peerRequest({ type: 'group.join', ref: 'r4', group: 'team' });
    expect([create, join]).toEqual([
      { kind: 'create', ref: 'r3', group: 'team' },
      { kind: 'join', ref: 'r4', group: 'team' },
    ]);
    expect([direct, group, create, join].map(replyTo)).toEqual(['ack', 'ack', 'group', 'ok']);
  });

  it('refuses a frame no peer has an equivalent for, naming it', () => {
    expect(() => peerRequest({ type: 'sync', ref: 'r5', since: 0 })).toThrow(/not \{"type":"sync"/);
    expect(() => peerRequest({ type: 'send', ref: 'r6', to: {}, text: 'nobody' })).toThrow(/carries direct and group sends/);
  });
});

describe('frames a peer’s storm connection holds until its catch-up', () => {
  it('holds every frame until released, then hands them over in order and holds nothing more', () => {
    const held = new HeldFrames(true);
    const seen: [string, number][] = [];
    const to = (frame: Frame, at: number): void => {
      seen.push([String(frame.text), at]);
    };
    held.deliver({ type: 'message', text: 'a' }, 1, to);
    held.deliver({ type: 'message', text: 'b' }, 2, to);
    expect(seen).toEqual([]);
    held.release(to);
    held.deliver({ type: 'message', text: 'c' }, 3, to);
    expect(seen).toEqual([
      ['a', 1],
      ['b', 2],
      ['c', 3],
    ]);
  });

  it('holds nothing on a connection not opened for the storm', () => {
    const held = new HeldFrames(false);
    const seen: string[] = [];
    held.deliver({ type: 'message', text: 'a' }, 1, (frame) => seen.push(String(frame.text)));
    expect(seen).toEqual(['a']);
  });
});
