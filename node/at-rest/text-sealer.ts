import type { Keyring } from './keyring.js';
import { openText, sealedKeyVersion, SealedTextError, sealText } from './text-sealing.js';

/** Seals message texts with the keyring's newest key and opens them with whichever sealed them. */
export class TextSealer {
  constructor(private readonly keyring: Keyring) {}

  seal(text: string, conv: string, id: string): Buffer {
    return sealText(this.keyring.newest, text, conv, id);
  }

  open(sealed: Buffer, conv: string, id: string): string {
    const version = sealedKeyVersion(sealed);
    const key = this.keyring.key(version);
    if (key === undefined) {
      throw new SealedTextError(
        `message ${id} in ${conv} is sealed with at-rest key v${version}, which is not among the keys (${this.keyring.versions.map((v) => `v${v}`).join(', ')})`,
      );
    }
    return openText(key, sealed, conv, id);
  }

  /** Whether `sealed` is under the newest key already (the re-encryption pass skips it). */
  isCurrent(sealed: Buffer): boolean {
    return sealedKeyVersion(sealed) === this.keyring.newest.version;
  }

  get newestVersion(): number {
    return this.keyring.newest.version;
  }
}
