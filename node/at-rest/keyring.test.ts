import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Keyring, KeyringError, parseKeyFiles } from './keyring.js';
import { TextSealer } from './text-sealer.js';
import type { AtRestKey } from './text-sealing.js';

const base64Key = (): string => randomBytes(32).toString('base64');

describe('the at-rest keys directory', () => {
  it('reads v1, v2, … in version order and skips what a mounted Secret adds', () => {
    const keys = parseKeyFiles([
      { name: 'v10', content: `${base64Key()}\n` },
      { name: 'v2', content: base64Key() },
      { name: '..data', content: '' },
      { name: '..2026_12_02_10_00_00.123', content: '' },
    ]);
    expect(keys.map((key) => key.version)).toEqual([2, 10]);
    expect(keys.every((key) => key.bytes.length === 32)).toBe(true);
  });

  it('refuses an empty directory, a badly named file and a key of the wrong size, naming the file but not its content', () => {
    expect(() => parseKeyFiles([])).toThrow(/no at-rest keys/);
    expect(() => parseKeyFiles([{ name: 'key1', content: base64Key() }])).toThrow(/"key1".*v1, v2/);
    expect(() => parseKeyFiles([{ name: 'v0', content: base64Key() }])).toThrow(KeyringError);
    expect(() => parseKeyFiles([{ name: 'v99999999999', content: base64Key() }])).toThrow(KeyringError);
    const short = randomBytes(16).toString('base64');
    expect(() => parseKeyFiles([{ name: 'v1', content: short }])).toThrow(/v1 is not the base64 of 32 bytes/);
    try {
      parseKeyFiles([{ name: 'v1', content: short }]);
    } catch (error) {
      expect((error as Error).message).not.toContain(short);
    }
    expect(() => parseKeyFiles([{ name: 'v1', content: 'not base64 at all!'.padEnd(44, '!') }])).toThrow(KeyringError);
  });
});

describe('a keyring across a rotation', () => {
  const key = (version: number): AtRestKey => ({ version, bytes: randomBytes(32) });

  it('seals with the newest key, opens with any, and learns a new key when a text needs it', () => {
    const v1 = key(1);
    const v2 = key(2);
    let source = [v1];
    const keyring = new Keyring(() => source, { minReadIntervalMs: 0 });
    const sealer = new TextSealer(keyring);
    const underV1 = sealer.seal('before', 'c', 'a');
    expect(sealer.isCurrent(underV1)).toBe(true);

    // Another node saw v2 first and sealed with it: this one reads its keys again to open it.
    const underV2 = new TextSealer(new Keyring(() => [v1, v2])).seal('after', 'c', 'b');
    source = [v1, v2];
    expect(sealer.open(underV2, 'c', 'b')).toBe('after');
    expect(sealer.newestVersion).toBe(2);
    expect(sealer.isCurrent(underV1)).toBe(false);
    expect(sealer.open(underV1, 'c', 'a')).toBe('before');

    // v1 retired: what it sealed no longer opens, and the error says which key is missing.
    source = [v2];
    keyring.refresh();
    expect(() => sealer.open(underV1, 'c', 'a')).toThrow(/key v1, which is not among the keys \(v2\)/);
  });

  it('keeps the keys it has when the source turns bad, and reports it', () => {
    const errors: Error[] = [];
    let bad = false;
    const v1 = key(1);
    const keyring = new Keyring(
      () => {
        if (bad) throw new KeyringError('v3 is not the base64 of 32 bytes');
        return [v1];
      },
      { onRefreshError: (error) => errors.push(error) },
    );
    bad = true;
    keyring.refresh();
    expect(keyring.newest).toBe(v1);
    expect(errors.map((error) => error.message)).toEqual(['v3 is not the base64 of 32 bytes']);
  });

  it('does not start without a usable source', () => {
    expect(() => new Keyring(() => parseKeyFiles([]))).toThrow(KeyringError);
  });
});
