import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from './process.js';

/** A certificate authority of the test environment's own, and one server certificate it signed. */
export interface TestCertificates {
  /** The CA certificate (PEM): what clients trust. */
  caFile: string;
  /** The server certificate (PEM) for `127.0.0.1` and `localhost`, and its key. */
  certFile: string;
  keyFile: string;
  /** The same key and certificate as a PKCS#12 keystore, for Java servers (Cassandra). */
  keystoreFile: string;
  keystorePassword: string;
}

const KEYSTORE_PASSWORD = 'chatcluster-test';

/**
 * Makes a CA and a server certificate signed by it (ECDSA P-256, valid for `days`) with
 * openssl in `dir`; what real deployments get from cert-manager or the operator.
 */
export async function makeTestCertificates(dir: string, name = 'server', days = 30): Promise<TestCertificates> {
  mkdirSync(dir, { recursive: true });
  const file = (base: string): string => join(dir, base);
  const certs: TestCertificates = {
    caFile: file('ca.crt'),
    certFile: file(`${name}.crt`),
    keyFile: file(`${name}.key`),
    keystoreFile: file(`${name}.p12`),
    keystorePassword: KEYSTORE_PASSWORD,
  };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  await openssl(['req', '-x509', ...ec, '-keyout', file('ca.key'), '-out', certs.caFile, '-days', String(days), '-subj', '/CN=chatcluster test CA']);
  await openssl(['req', ...ec, '-keyout', certs.keyFile, '-out', file(`${name}.csr`), '-subj', `/CN=${name}`]);
  writeFileSync(file(`${name}.ext`), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  await openssl([
    'x509', '-req', '-in', file(`${name}.csr`), '-CA', certs.caFile, '-CAkey', file('ca.key'), '-CAcreateserial',
    '-out', certs.certFile, '-days', String(days), '-extfile', file(`${name}.ext`),
  ]);
  await openssl(['pkcs12', '-export', '-in', certs.certFile, '-inkey', certs.keyFile, '-out', certs.keystoreFile, '-passout', `pass:${KEYSTORE_PASSWORD}`, '-name', name]);
  return certs;
}

async function openssl(args: string[]): Promise<void> {
  await run('openssl', args, { remedy: 'openssl comes with Debian (apt-get install openssl)' });
}
