import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/** One AES-256 key and the version it is known by (`v<version>` in the keys directory). */
export interface AtRestKey {
  version: number;
  bytes: Buffer;
}

/** A sealed text that cannot be opened: wrong format, unknown key, or tampered with. */
export class SealedTextError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SealedTextError';
  }
}

export const KEY_BYTES = 32;
const FORMAT = 1;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const HEADER_BYTES = 1 + 4 + NONCE_BYTES;

/**
 * AES-256-GCM of one message text, as stored in the `sealed` column:
 * format byte (1) · key version (uint32, big-endian) · nonce (12) · ciphertext · tag (16).
 * The nonce is random per message: 2^32 messages under one key keep the chance of a repeat
 * below 2^-32, and a rotation starts a new key long before. The conversation and message id
 * are the associated data, so a sealed text copied onto another row does not open.
 */
export function sealText(key: AtRestKey, text: string, conv: string, id: string): Buffer {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key.bytes, nonce);
  cipher.setAAD(associatedData(conv, id));
  const header = Buffer.alloc(HEADER_BYTES);
  header.writeUInt8(FORMAT, 0);
  header.writeUInt32BE(key.version, 1);
  nonce.copy(header, 5);
  const body = Buffer.concat([cipher.update(text, 'utf8'), cipher.final()]);
  return Buffer.concat([header, body, cipher.getAuthTag()]);
}

/** The version of the key a sealed text was sealed with. */
export function sealedKeyVersion(sealed: Buffer): number {
  if (sealed.length < HEADER_BYTES + TAG_BYTES || sealed.readUInt8(0) !== FORMAT) {
    throw new SealedTextError(`not a sealed text of format ${FORMAT} (${sealed.length} bytes)`);
  }
  return sealed.readUInt32BE(1);
}

/** The text back, if `key` sealed it for this conversation and message; SealedTextError otherwise. */
export function openText(key: AtRestKey, sealed: Buffer, conv: string, id: string): string {
  const version = sealedKeyVersion(sealed);
  if (version !== key.version) throw new SealedTextError(`sealed with key v${version}, not v${key.version}`);
  const decipher = createDecipheriv('aes-256-gcm', key.bytes, sealed.subarray(5, HEADER_BYTES));
  decipher.setAAD(associatedData(conv, id));
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
  try {
    return Buffer.concat([decipher.update(sealed.subarray(HEADER_BYTES, sealed.length - TAG_BYTES)), decipher.final()]).toString('utf8');
  } catch {
    throw new SealedTextError(`message ${id} in ${conv} does not open with key v${version}: altered, or sealed for another row`);
  }
}

// Length-prefixed, so no pair of (conversation, id) encodes like another.
function associatedData(conv: string, id: string): Buffer {
  const convBytes = Buffer.from(conv, 'utf8');
  const length = Buffer.alloc(4);
  length.writeUInt32BE(convBytes.length, 0);
  return Buffer.concat([length, convBytes, Buffer.from(id, 'utf8')]);
}
