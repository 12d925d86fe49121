import { readFileSync } from 'node:fs';
import type { Server as HttpsServer } from 'node:https';
import type { Logger } from '../../common/log.js';

/** The PEM files the public port serves TLS from. */
export interface CertificateFiles {
  certFile: string;
  keyFile: string;
}

export interface CertificatePair {
  cert: string;
  key: string;
}

/** Both files' contents as they are now. */
export function readCertificatePair(files: CertificateFiles): CertificatePair {
  return { cert: readFileSync(files.certFile, 'utf8'), key: readFileSync(files.keyFile, 'utf8') };
}

/**
 * Reads the files every `intervalMs` and, when they changed, serves new connections with
 * them (open ones keep theirs): a Secret mounted as a volume is replaced in place, and a
 * renewed certificate must not need a restart. A pair that does not match (read between the
 * two files' updates) or does not parse is logged and the old one kept; the next read tries
 * again. Returns the function that stops it.
 */
export function reloadCertificateOnChange(server: HttpsServer, files: CertificateFiles, served: CertificatePair, log: Logger, intervalMs = 5_000): () => void {
  let current = served;
  let failed = '';
  const timer = setInterval(() => {
    let next: CertificatePair;
    try {
      next = readCertificatePair(files);
    } catch (error) {
      report(error);
      return;
    }
    if (next.cert === current.cert && next.key === current.key) return;
    try {
      server.setSecureContext(next);
    } catch (error) {
      report(error);
      return;
    }
    current = next;
    failed = '';
    log.info({ certFile: files.certFile }, 'serving a new TLS certificate');
  }, intervalMs).unref();
  // Once per distinct problem, not every few seconds.
  const report = (error: unknown): void => {
    const message = error instanceof Error ? error.message : String(error);
    if (message === failed) return;
    failed = message;
    log.error({ err: error, certFile: files.certFile, keyFile: files.keyFile }, 'the TLS certificate files could not be used; serving the previous certificate');
  };
  return () => {
    clearInterval(timer);
  };
}
