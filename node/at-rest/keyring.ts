import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KEY_BYTES, type AtRestKey } from './text-sealing.js';

/** A keys directory that cannot be used: no keys, a bad file name, a key of the wrong size. */
export class KeyringError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeyringError';
  }
}

const KEY_FILE = /^v([1-9]\d{0,9})$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * The keys of a directory's files, `v1`, `v2`, …, each the base64 of 32 random bytes (what
 * `openssl rand -base64 32` prints). Names starting with a dot are skipped: a mounted Secret
 * keeps its versions in `..data` and friends. An error names the file, never its content.
 */
export function parseKeyFiles(files: readonly { name: string; content: string }[]): AtRestKey[] {
  const keys: AtRestKey[] = [];
  for (const { name, content } of files) {
    if (name.startsWith('.')) continue;
    const match = KEY_FILE.exec(name);
    if (match?.[1] === undefined || Number(match[1]) > 0xffff_ffff) {
      throw new KeyringError(`unexpected file ${JSON.stringify(name)} among the at-rest keys: name them v1, v2, … (the newest encrypts)`);
    }
    const text = content.trim();
    const bytes = Buffer.from(text, 'base64');
    if (!BASE64.test(text) || bytes.length !== KEY_BYTES) {
      throw new KeyringError(`at-rest key ${name} is not the base64 of ${KEY_BYTES} bytes (make one with: openssl rand -base64 32)`);
    }
    keys.push({ version: Number(match[1]), bytes });
  }
  if (keys.length === 0) throw new KeyringError('no at-rest keys: put the base64 of 32 random bytes in a file named v1');
  return keys.sort((a, b) => a.version - b.version);
}

/** The keys in `dir` (see parseKeyFiles). */
export function readKeyDirectory(dir: string): AtRestKey[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (error) {
    throw new KeyringError(`cannot read the at-rest keys directory ${dir}: ${(error as Error).message}`);
  }
  return parseKeyFiles(names.filter((name) => !name.startsWith('.')).map((name) => ({ name, content: readFileSync(join(dir, name), 'utf8') })));
}

/**
 * The at-rest keys: the newest seals, every one opens. Keys come from a source read again
 * on demand (a text sealed with a version not known yet: another node saw a new key first)
 * and by `refresh`, so a key added to the Secret takes effect without a restart.
 */
export class Keyring {
  private keys: ReadonlyMap<number, AtRestKey>;
  private newestKey: AtRestKey;
  private lastReadAt = 0;

  /** Reads the keys once; a bad source throws (a node must not start unable to read its history). */
  constructor(
    private readonly read: () => AtRestKey[],
    private readonly options: { minReadIntervalMs?: number; onRefreshError?: (error: Error) => void } = {},
  ) {
    const keys = read();
    this.keys = new Map(keys.map((key) => [key.version, key]));
    this.newestKey = newestOf(keys);
    this.lastReadAt = Date.now();
  }

  /** The key new texts are sealed with. */
  get newest(): AtRestKey {
    return this.newestKey;
  }

  get versions(): number[] {
    return [...this.keys.keys()];
  }

  /** The key of `version`, reading the source again (at most once per interval) when it is not known. */
  key(version: number): AtRestKey | undefined {
    const known = this.keys.get(version);
    if (known !== undefined) return known;
    if (Date.now() - this.lastReadAt >= (this.options.minReadIntervalMs ?? 1_000)) this.refresh();
    return this.keys.get(version);
  }

  /** Reads the source again; a bad source keeps the keys known so far and reports the error. */
  refresh(): void {
    this.lastReadAt = Date.now();
    try {
      const keys = this.read();
      this.keys = new Map(keys.map((key) => [key.version, key]));
      this.newestKey = newestOf(keys);
    } catch (error) {
      this.options.onRefreshError?.(error as Error);
    }
  }
}

function newestOf(keys: readonly AtRestKey[]): AtRestKey {
  const newest = keys.reduce<AtRestKey | undefined>((best, key) => (best === undefined || key.version > best.version ? key : best), undefined);
  if (newest === undefined) throw new KeyringError('no at-rest keys');
  return newest;
}
