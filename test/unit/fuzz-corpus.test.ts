import { describe, expect, it } from 'vitest';
import { ClientFrame } from '../../node/protocol/frames.js';
import { fuzzCorpus, seededRandom } from '../support/fuzz-corpus.js';

describe('the frame fuzzer’s corpus', () => {
  const corpus = fuzzCorpus({ seed: 7, maxFrameBytes: 65_536 });

  it('is the same for the same seed, so a failure replays', () => {
    const again = fuzzCorpus({ seed: 7, maxFrameBytes: 65_536 });
    expect(again.map((fuzz) => fuzz.payload.toString('base64'))).toEqual(corpus.map((fuzz) => fuzz.payload.toString('base64')));
    expect(fuzzCorpus({ seed: 8, maxFrameBytes: 65_536 }).map((fuzz) => fuzz.payload.toString('base64'))).not.toEqual(
      corpus.map((fuzz) => fuzz.payload.toString('base64')),
    );
    const [a, b] = [seededRandom(1), seededRandom(1)];
    expect([a(), a(), a()]).toEqual([b(), b(), b()]);
  });

  it('mutates every field of every frame type the schema has, each at least missing and of a wrong type', () => {
    for (const option of ClientFrame.options) {
      const type = option.shape.type.value;
      for (const field of Object.keys(option.shape)) {
        const names = corpus.map((fuzz) => fuzz.name);
        expect(names, `${type}.${field}`).toContain(`${type}.${field}: missing`);
        expect(names, `${type}.${field}`).toContain(`${type}.${field}: null`);
      }
      expect(corpus.some((fuzz) => fuzz.name === `${type}: valid` && fuzz.expect === 'valid'), type).toBe(true);
    }
    // Nested fields too: the user of a send's target.
    expect(corpus.map((fuzz) => fuzz.name)).toContain('send.to.user: length 65');
  });

  it('judges each case with the node’s own schema and size limit', () => {
    const byName = (name: string) => corpus.find((fuzz) => fuzz.name === name);
    expect(byName('send.to.user: length 65')?.expect).toBe('bad_request');
    expect(byName('send.to.user: length 64')?.expect).toBe('valid');
    expect(byName('presence.watch.users: 1001 elements')?.expect).toBe('bad_request');
    expect(byName('oversized garbage')?.expect).toBe('close_1009');
    expect(byName('frame at the limit')).toMatchObject({ expect: 'valid' });
    expect(byName('frame at the limit')?.payload.length).toBe(65_536);
    expect(corpus.filter((fuzz) => fuzz.binary).every((fuzz) => fuzz.expect !== 'valid')).toBe(true);
    expect(corpus.filter((fuzz) => fuzz.expect === 'close_1007').length).toBeGreaterThan(0);
  });
});
