import { describe, expect, it } from 'vitest';
import { peerRequest, replyTo } from '../bench/peers/chat-frames.js';

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
