import { describe, expect, it } from 'vitest';
import { LocalSockets, type ClientConnection } from './local-sockets.js';

function connection(user: string, session: string): ClientConnection {
  return { user, session, send() {}, close() {} };
}

describe('LocalSockets', () => {
  it('counts sockets as they come and go, a socket added twice or removed twice once', () => {
    const sockets = new LocalSockets();
    const [a1, a2, b1] = [connection('a', '1'), connection('a', '2'), connection('b', '1')];
    expect(sockets.add(a1)).toBe(true);
    expect(sockets.add(a2)).toBe(false);
    sockets.add(a2);
    sockets.add(b1);
    expect(sockets.connectionCount).toBe(3);
    expect(sockets.remove(a1)).toBe(false);
    expect(sockets.remove(a1)).toBe(false);
    expect(sockets.connectionCount).toBe(2);
    expect(sockets.remove(a2)).toBe(true);
    expect(sockets.remove(b1)).toBe(true);
    expect(sockets.connectionCount).toBe(0);
    expect(sockets.all()).toEqual([]);
  });

  it('takes out of a groups read the groups its user left while it was on its way, and only those', () => {
    const sockets = new LocalSockets();
    const first = sockets.startGroupsRead('a');
    const second = sockets.startGroupsRead('a');
    sockets.leaveGroup('a', 'crew');
    sockets.leaveGroup('b', 'band');
    expect(first.finish(['crew', 'band', 'team'])).toEqual(['band', 'team']);
    sockets.leaveGroup('a', 'team');
    expect(first.finish(['crew', 'team'])).toEqual(['team']);
    expect(second.finish(['crew', 'team'])).toEqual([]);
    sockets.leaveGroup('a', 'band');
    expect(sockets.startGroupsRead('a').finish(['band'])).toEqual(['band']);
  });
});
