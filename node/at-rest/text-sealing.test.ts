import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { openText, sealedKeyVersion, SealedTextError, sealText, type AtRestKey } from './text-sealing.js';

const key = (version: number): AtRestKey => ({ version, bytes: randomBytes(32) });

describe('sealing a message text (AES-256-GCM)', () => {
  const v1 = key(1);

  it('opens to the same text, including multi-byte characters and the empty text', () => {
    for (const text of ['hello', 'héllo wörld ✓ 🙂', '', 'x'.repeat(65_536)]) {
      expect(openText(v1, sealText(v1, text, 'd:alice:bob', '01J0000000000000000000000A'), 'd:alice:bob', '01J0000000000000000000000A')).toBe(text);
    }
  });

  it('holds no trace of the text and a fresh nonce each time', () => {
    const text = 'the launch code is 0000';
    const first = sealText(v1, text, 'c', 'i');
    const second = sealText(v1, text, 'c', 'i');
    expect(first.includes(Buffer.from(text))).toBe(false);
    expect(first.toString('latin1')).not.toContain('launch');
    expect(first.equals(second)).toBe(false);
    // format + version + nonce + text + tag
    expect(first.length).toBe(1 + 4 + 12 + Buffer.byteLength(text) + 16);
  });

  it('names the key version it was sealed with', () => {
    expect(sealedKeyVersion(sealText(key(7), 'x', 'c', 'i'))).toBe(7);
    expect(sealedKeyVersion(sealText(key(0xffff_ffff), 'x', 'c', 'i'))).toBe(0xffff_ffff);
  });

  it('does not open on another row: the conversation and id are bound to it', () => {
    const sealed = sealText(v1, 'secret', 'd:alice:bob', 'id1');
    expect(() => openText(v1, sealed, 'd:alice:carol', 'id1')).toThrow(SealedTextError);
    expect(() => openText(v1, sealed, 'd:alice:bob', 'id2')).toThrow(SealedTextError);
    // The length prefix keeps ("ab", "c") apart from ("a", "bc").
    expect(() => openText(v1, sealText(v1, 'x', 'ab', 'c'), 'a', 'bc')).toThrow(SealedTextError);
  });

  it('refuses a text altered by one bit, a wrong key, and what is not a sealed text', () => {
    const sealed = sealText(v1, 'secret', 'c', 'i');
    const flipped = Buffer.from(sealed);
    flipped[20] = (flipped[20] ?? 0) ^ 1;
    expect(() => openText(v1, flipped, 'c', 'i')).toThrow(/altered/);
    expect(() => openText({ version: 1, bytes: randomBytes(32) }, sealed, 'c', 'i')).toThrow(SealedTextError);
    expect(() => openText(key(2), sealed, 'c', 'i')).toThrow(/v1, not v2/);
    expect(() => sealedKeyVersion(Buffer.from('plain text, not sealed'))).toThrow(SealedTextError);
    expect(() => sealedKeyVersion(Buffer.alloc(10))).toThrow(SealedTextError);
  });
});
