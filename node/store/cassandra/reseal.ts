import type { Client, types } from 'cassandra-driver';
import type { TextSealer } from '../../at-rest/text-sealer.js';
import { mapLimited } from './map-limited.js';
import { CQL, READ, WRITE } from './queries.js';
import { int, text } from './rows.js';

/** What a re-encryption pass found and did. */
export interface ResealReport {
  /** Message rows read. */
  scanned: number;
  /** Rows that were plaintext and are now sealed with the newest key. */
  sealedPlaintext: number;
  /** Rows that were sealed with an older key and are now sealed with the newest. */
  rekeyed: number;
  /** Rows already under the newest key. */
  current: number;
  /** The key every message is now sealed with. */
  keyVersion: number;
}

/**
 * Seals every message with the newest key: plaintext rows (written before encryption was
 * turned on) and rows under an older key, so that key can then be retired. Reads the whole
 * `messages` table a page at a time and rewrites only what is not current, so it is safe
 * to run again, and alongside serving nodes: a message written meanwhile is written under
 * the newest key already (a node that has not seen the new key yet writes under an older
 * one, which the next pass catches: run it after every node has the new key).
 */
export async function resealMessages(
  client: Client,
  sealer: TextSealer,
  options: { pageRows?: number; inFlight?: number; onPage?: (report: ResealReport) => void } = {},
): Promise<ResealReport> {
  const report: ResealReport = { scanned: 0, sealedPlaintext: 0, rekeyed: 0, current: 0, keyVersion: sealer.newestVersion };
  const result = await client.execute(CQL.scanMessageTexts, [], { ...READ, fetchSize: options.pageRows ?? 500 });
  let page: types.Row[] = [];
  const flush = async (): Promise<void> => {
    await mapLimited(page, options.inFlight ?? 32, (row) => resealRow(client, sealer, row, report));
    page = [];
    options.onPage?.({ ...report });
  };
  for await (const row of result) {
    report.scanned += 1;
    page.push(row);
    if (page.length >= (options.pageRows ?? 500)) await flush();
  }
  await flush();
  return report;
}

async function resealRow(client: Client, sealer: TextSealer, row: types.Row, report: ResealReport): Promise<void> {
  const conv = text(row, 'conv_id');
  const bucket = int(row, 'bucket');
  const id = text(row, 'id');
  const sealed: unknown = row.get('sealed');
  if (Buffer.isBuffer(sealed)) {
    if (sealer.isCurrent(sealed)) {
      report.current += 1;
      return;
    }
    const resealed = sealer.seal(sealer.open(sealed, conv, id), conv, id);
    await client.execute(CQL.resealMessage, [resealed, conv, bucket, id], WRITE);
    report.rekeyed += 1;
    return;
  }
  const plaintext = text(row, 'text');
  await client.execute(CQL.sealPlaintextMessage, [sealer.seal(plaintext, conv, id), conv, bucket, id], WRITE);
  report.sealedPlaintext += 1;
}
