import { describe, expect, it } from 'vitest';
import { RequestGate } from './request-gate.js';

/** A request that stays in flight until `answer` is called. */
function pending<T>(): { promise: Promise<T>; answer: (value: T) => void; fail: (error: Error) => void } {
  let answer!: (value: T) => void;
  let fail!: (error: Error) => void;
  const promise = new Promise<T>((resolve, reject) => {
    answer = resolve;
    fail = reject;
  });
  return { promise, answer, fail };
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('RequestGate', () => {
  it('keeps at most its limit in flight and sends the queued ones first come first served', async () => {
    const gate = new RequestGate(2);
    const requests = Array.from({ length: 5 }, () => pending<number>());
    const sent: number[] = [];
    const results = requests.map((request, index) =>
      gate.run(() => {
        sent.push(index);
        return request.promise;
      }),
    );
    await turn();
    expect(sent).toEqual([0, 1]);
    expect({ active: gate.active, queued: gate.queued }).toEqual({ active: 2, queued: 3 });

    requests[1]?.answer(1);
    await turn();
    expect(sent).toEqual([0, 1, 2]);
    requests[0]?.answer(0);
    requests[2]?.answer(2);
    await turn();
    expect(sent).toEqual([0, 1, 2, 3, 4]);
    expect({ active: gate.active, queued: gate.queued }).toEqual({ active: 2, queued: 0 });

    requests[3]?.answer(3);
    requests[4]?.answer(4);
    expect(await Promise.all(results)).toEqual([0, 1, 2, 3, 4]);
    expect({ active: gate.active, queued: gate.queued }).toEqual({ active: 0, queued: 0 });
  });

  it('passes a failure to its caller and still hands the turn on', async () => {
    const gate = new RequestGate(1);
    const first = pending<string>();
    const failing = gate.run(() => first.promise);
    const second = gate.run(() => Promise.resolve('second'));
    await turn();
    expect(gate.queued).toBe(1);
    first.fail(new Error('timed out'));
    await expect(failing).rejects.toThrow('timed out');
    await expect(second).resolves.toBe('second');
    expect(gate.active).toBe(0);
  });

  it('sends thousands in order through a long queue', async () => {
    const gate = new RequestGate(3);
    const order: number[] = [];
    await Promise.all(
      Array.from({ length: 5_000 }, (_, index) =>
        gate.run(async () => {
          order.push(index);
          await turn();
        }),
      ),
    );
    expect(order).toEqual(Array.from({ length: 5_000 }, (_, index) => index));
    expect({ active: gate.active, queued: gate.queued }).toEqual({ active: 0, queued: 0 });
  });

  it('refuses a limit below one', () => {
    expect(() => new RequestGate(0)).toThrow(RangeError);
  });
});
