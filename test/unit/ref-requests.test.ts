import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Frame } from '../bench/bench-socket.js';
import { RefRequests } from '../bench/ref-requests.js';

/** A socket that keeps what was sent through it. */
function sentTo(): { sent: Record<string, unknown>[]; send(frame: Record<string, unknown>): void } {
  const sent: Record<string, unknown>[] = [];
  return { sent, send: (frame) => sent.push(frame) };
}

describe('requests answered by ref', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('gives each request a ref of its own and resolves it with the frame that carries that ref back', async () => {
    const requests = new RefRequests();
    const [a, b] = [sentTo(), sentTo()];
    const first = requests.request(a, { type: 'sync', since: 0 }, 1_000);
    const second = requests.request(b, { type: 'sync', since: 0 }, 1_000);
    const [refA, refB] = [a.sent[0]?.ref, b.sent[0]?.ref];
    expect(a.sent[0]).toMatchObject({ type: 'sync', since: 0 });
    expect(typeof refA).toBe('string');
    expect(refB).not.toBe(refA);
    expect(requests.waiting).toBe(2);

    expect(requests.answer({ type: 'sync', ref: refB, cursor: 'b' })).toBe(true);
    expect(requests.answer({ type: 'error', ref: refA, code: 'bad_request' })).toBe(true);
    await expect(second).resolves.toMatchObject({ cursor: 'b' });
    // Whatever type the reply has: the caller decides what it expected.
    await expect(first).resolves.toMatchObject({ type: 'error', code: 'bad_request' });
    expect(requests.waiting).toBe(0);
  });

  it('ignores frames that answer nothing: no ref, an unknown ref, a reply already answered', () => {
    const requests = new RefRequests();
    const socket = sentTo();
    void requests.request(socket, { type: 'sync' }, 1_000);
    const ref = socket.sent[0]?.ref;
    expect(requests.answer({ type: 'message', text: 'hi' })).toBe(false);
    expect(requests.answer({ type: 'sync', ref: 'someone-else' })).toBe(false);
    expect(requests.answer({ type: 'sync', ref })).toBe(true);
    expect(requests.answer({ type: 'sync', ref })).toBe(false);
    // Another instance's request never reuses the ref, so that late reply cannot answer it.
    const other = sentTo();
    const otherRequests = new RefRequests();
    void otherRequests.request(other, { type: 'sync' }, 1_000);
    expect(other.sent[0]?.ref).not.toBe(ref);
    otherRequests.answerAll({ type: 'closed' });
  });

  it('rejects a request whose reply does not come in time, and forgets it', async () => {
    vi.useFakeTimers();
    const requests = new RefRequests();
    const socket = sentTo();
    const late = requests.request(socket, { type: 'sync' }, 500);
    const kept = requests.request(socket, { type: 'sync' }, 5_000);
    const rejected = expect(late).rejects.toThrow('no reply to sync within 500 ms (1 more awaited)');
    await vi.advanceTimersByTimeAsync(500);
    await rejected;
    expect(requests.answer({ type: 'sync', ref: socket.sent[0]?.ref })).toBe(false);
    expect(requests.answer({ type: 'sync', ref: socket.sent[1]?.ref })).toBe(true);
    await expect(kept).resolves.toMatchObject({ type: 'sync' });
  });

  it('answers every waiting request at once when no reply will come, and their timers no longer fire', async () => {
    vi.useFakeTimers();
    const requests = new RefRequests();
    const socket = sentTo();
    const waiting = [requests.request(socket, { type: 'sync' }, 500), requests.request(socket, { type: 'history' }, 500)];
    const closed: Frame = { type: 'closed', code: 1006 };
    requests.answerAll(closed);
    expect(requests.waiting).toBe(0);
    await expect(Promise.all(waiting)).resolves.toEqual([closed, closed]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('rejects a reply of another type than the one expected, naming it', async () => {
    const requests = new RefRequests();
    const socket = sentTo();
    const sync = requests.request(socket, { type: 'sync' }, 1_000, 'sync');
    requests.answer({ type: 'error', ref: socket.sent[0]?.ref, code: 'unavailable' });
    await expect(sync).rejects.toThrow('sync answered {"type":"error"');
    const expected = requests.request(socket, { type: 'sync' }, 1_000, 'sync');
    requests.answer({ type: 'sync', ref: socket.sent[1]?.ref, cursor: 'c' });
    await expect(expected).resolves.toMatchObject({ cursor: 'c' });
  });

  it('forgets a request whose send threw: nothing left waiting, no timer left armed', async () => {
    vi.useFakeTimers();
    const requests = new RefRequests();
    const closed = {
      send(): void {
        throw new Error('socket closed');
      },
    };
    await expect(requests.request(closed, { type: 'sync' }, 500)).rejects.toThrow('socket closed');
    expect(requests.waiting).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });
});
