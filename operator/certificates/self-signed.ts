/**
 * A development CA and the server certificates it signs, for `spec.tls.selfSigned`. Keys
 * are ECDSA P-256, made and used by Node's own WebCrypto; @peculiar/x509 only builds the
 * X.509 structures (Node's crypto can parse and check certificates, not write them).
 * Pure but for the randomness of keys and serial numbers: time is passed in.
 */
import 'reflect-metadata'; // @peculiar/x509 resolves its encoders through tsyringe, which needs the Reflect metadata API.
import { createPrivateKey, webcrypto, X509Certificate } from 'node:crypto';
import * as x509 from '@peculiar/x509';

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

// Explicit rather than the global one the library would look for: this is Node's.
x509.cryptoProvider.set(webcrypto);

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 24 * 60 * 60 * 1000;
/** Long: a new CA means every client that trusts the old one must be handed the new one. */
export const CA_LIFETIME_DAYS = 3650;
/** What cert-manager issues by default; renewed at two thirds, so a missed renewal leaves a month. */
export const SERVER_LIFETIME_DAYS = 90;
/** Backdated, so a peer whose clock runs a little behind does not see a certificate from the future. */
const BACKDATE_MS = 5 * 60 * 1000;

/** A certificate and its private key, PEM (the key PKCS#8, which OpenSSL, Node and Cassandra read). */
export interface CertifiedKey {
  certificate: string;
  privateKey: string;
}

async function newKeys(): Promise<CryptoKeyPair> {
  return webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify']);
}

async function privateKeyPem(key: CryptoKey): Promise<string> {
  return x509.PemConverter.encode(await webcrypto.subtle.exportKey('pkcs8', key), 'PRIVATE KEY');
}

async function importPrivateKey(pem: string): Promise<CryptoKey> {
  const der = x509.PemConverter.decodeFirst(pem);
  return webcrypto.subtle.importKey('pkcs8', der, ALGORITHM, false, ['sign']);
}

/** 16 random bytes, high bit clear (serials are positive integers). */
function serialNumber(): string {
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return Buffer.from(bytes).toString('hex');
}

/** A self-signed CA that may sign server certificates only (path length 0). */
export async function makeCa(commonName: string, now: Date): Promise<CertifiedKey> {
  const keys = await newKeys();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name: [{ CN: [commonName] }],
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: new Date(now.getTime() + CA_LIFETIME_DAYS * DAY_MS),
    keys,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certificate: certificate.toString('pem'), privateKey: await privateKeyPem(keys.privateKey) };
}

/**
 * A server certificate for `dnsNames` signed by `ca`, valid SERVER_LIFETIME_DAYS. Usable
 * for both ends of TLS (serverAuth and clientAuth): Cassandra's peers and Redis replicas
 * present it to each other.
 */
export async function issueServerCertificate(ca: CertifiedKey, dnsNames: readonly string[], now: Date): Promise<CertifiedKey> {
  if (dnsNames.length === 0) throw new Error('a server certificate needs at least one DNS name');
  const keys = await newKeys();
  const caCertificate = new x509.X509Certificate(ca.certificate);
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: [{ CN: [dnsNames[0] ?? ''] }],
    issuer: caCertificate.subjectName,
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: new Date(now.getTime() + SERVER_LIFETIME_DAYS * DAY_MS),
    publicKey: keys.publicKey,
    signingKey: await importPrivateKey(ca.privateKey),
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      new x509.SubjectAlternativeNameExtension(dnsNames.map((name) => ({ type: 'dns' as const, value: name }))),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(caCertificate),
    ],
  });
  return { certificate: certificate.toString('pem'), privateKey: await privateKeyPem(keys.privateKey) };
}

/** When a certificate is due for renewal: two thirds into its lifetime. */
export function renewalTime(certificatePem: string): Date {
  const certificate = new X509Certificate(certificatePem);
  const from = Date.parse(certificate.validFrom);
  const to = Date.parse(certificate.validTo);
  return new Date(from + ((to - from) * 2) / 3);
}

/** The DNS names of a certificate's subjectAltName, sorted. */
export function dnsNamesOf(certificatePem: string): string[] {
  const names = new X509Certificate(certificatePem).subjectAltName ?? '';
  return names
    .split(', ')
    .filter((entry) => entry.startsWith('DNS:'))
    .map((entry) => entry.slice('DNS:'.length))
    .sort();
}

/**
 * Why a stored server certificate must be replaced, or undefined when it serves: it must
 * parse, be signed by `caPem`, match its key, name exactly `dnsNames`, and not be due.
 */
export function serverCertificateProblem(stored: CertifiedKey, caPem: string, dnsNames: readonly string[], now: Date): string | undefined {
  let certificate: X509Certificate;
  let ca: X509Certificate;
  try {
    certificate = new X509Certificate(stored.certificate);
    ca = new X509Certificate(caPem);
  } catch {
    return 'it does not parse';
  }
  if (!certificate.checkIssued(ca) || !certificate.verify(ca.publicKey)) return 'it is not signed by the current CA';
  try {
    if (!certificate.checkPrivateKey(createPrivateKey(stored.privateKey))) return 'its key does not match';
  } catch {
    return 'its key does not parse';
  }
  if (JSON.stringify(dnsNamesOf(stored.certificate)) !== JSON.stringify([...dnsNames].sort())) return 'the names it must cover changed';
  if (now.getTime() >= renewalTime(stored.certificate).getTime()) return 'it is two thirds into its lifetime';
  return undefined;
}

/** Why a stored CA must be replaced, or undefined when it can go on signing. */
export function caProblem(stored: CertifiedKey, now: Date): string | undefined {
  try {
    const ca = new X509Certificate(stored.certificate);
    if (!ca.ca || !ca.checkPrivateKey(createPrivateKey(stored.privateKey))) return 'it is not a CA with its key';
  } catch {
    return 'it does not parse';
  }
  if (now.getTime() >= renewalTime(stored.certificate).getTime()) return 'it is two thirds into its lifetime';
  return undefined;
}
