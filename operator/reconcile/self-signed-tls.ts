import type { KubernetesObject, V1Secret } from '@kubernetes/client-node';
import type { ChatCluster } from '../../common/chatcluster.js';
import { z } from 'zod';
import { caProblem, issueServerCertificate, makeCa, renewalTime, serverCertificateProblem, type CertifiedKey } from '../certificates/self-signed.js';
import { certificateDnsNames } from '../desired/encryption.js';
import { namesOf, ownedMeta } from '../desired/meta.js';
import { SecretReadings } from './secret-reads.js';

/**
 * How long a certificate found good is taken on trust before the Secrets are read again:
 * one deleted or overwritten by hand comes back within this time (the operator watches no
 * Secrets). Also keeps the requeue far below setTimeout's 24.8-day limit.
 */
const RECHECK_MS = 10 * 60_000;

/** The reads and writes this step makes (KubeWriter's). */
export interface SecretAccess {
  readSecret(namespace: string, name: string): Promise<unknown>;
  apply(object: KubernetesObject): Promise<unknown>;
}

/** A Secret written, and why: for the ChatCluster's Events. */
export interface WrittenSecret {
  name: string;
  reason: string;
}

const TlsSecret = z.object({
  data: z.object({ 'tls.crt': z.string(), 'tls.key': z.string(), 'ca.crt': z.string().optional() }),
});

const fromBase64 = (text: string): string => Buffer.from(text, 'base64').toString('utf8');
const toBase64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');

/** The certificate, key and CA bundle of a kubernetes.io/tls Secret as read, undefined when it holds none. */
function storedPair(secret: unknown): (CertifiedKey & { caBundle: string | undefined }) | undefined {
  const parsed = TlsSecret.safeParse(secret);
  if (!parsed.success) return undefined;
  const data = parsed.data.data;
  return { certificate: fromBase64(data['tls.crt']), privateKey: fromBase64(data['tls.key']), caBundle: data['ca.crt'] === undefined ? undefined : fromBase64(data['ca.crt']) };
}

/** A kubernetes.io/tls Secret the ChatCluster owns (deleted with it). */
function tlsSecret(cluster: ChatCluster, name: string, pair: CertifiedKey, caBundle?: string): V1Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: ownedMeta(cluster, name, 'node'),
    type: 'kubernetes.io/tls',
    data: { 'tls.crt': toBase64(pair.certificate), 'tls.key': toBase64(pair.privateKey), ...(caBundle === undefined ? {} : { 'ca.crt': toBase64(caBundle) }) },
  };
}

/**
 * The CA bundle (ca.crt) of each ChatCluster's certificate Secret, <name>-tls, read now and
 * then: what the operator checks the managed Redis's Sentinels against when it asks them.
 */
export class CertificateAuthorities {
  private readonly bundles: SecretReadings<string>;

  constructor(secrets: Pick<SecretAccess, 'readSecret'>, now: () => number) {
    // A missing one is asked for again soon: the certificate is being issued.
    this.bundles = new SecretReadings(secrets, now, (secret) => storedPair(secret)?.caBundle, RECHECK_MS, 30_000);
  }

  /** The CA bundle, undefined while the Secret or its ca.crt is missing. */
  of(cluster: ChatCluster): Promise<string | undefined> {
    return this.bundles.of(cluster, namesOf(cluster).tls);
  }
}

/**
 * The operator's own certificates (see operatorSignsCertificate: spec.tls.selfSigned, or
 * spec.tls.secretName with a managed store): keeps a CA in <name>-ca and a server certificate
 * signed by it in <name>-tls (with ca.crt, for clients to trust), both made when missing and
 * replaced when they no longer serve (see serverCertificateProblem and caProblem), two thirds
 * into their lifetimes at the latest. Nodes and stores re-read the files, so a renewal
 * restarts nothing (but a Sentinel container).
 */
export class SelfSignedCertificates {
  /** By ChatCluster uid: the names last found covered, and until when that is taken on trust. */
  private readonly trusted = new Map<string, { names: string; until: number }>();

  constructor(
    private readonly secrets: SecretAccess,
    private readonly now: () => number,
  ) {}

  /** Makes both Secrets good; returns when to look again and what it wrote. */
  async ensure(cluster: ChatCluster): Promise<{ recheckAt: number; written: WrittenSecret[] }> {
    const dnsNames = certificateDnsNames(cluster);
    const fingerprint = dnsNames.join(',');
    const now = this.now();
    const trusted = this.trusted.get(cluster.metadata.uid);
    if (trusted !== undefined && trusted.names === fingerprint && now < trusted.until) return { recheckAt: trusted.until, written: [] };

    const { namespace } = cluster.metadata;
    const names = namesOf(cluster);
    const written: WrittenSecret[] = [];
    let ca: CertifiedKey | undefined = storedPair(await this.secrets.readSecret(namespace, names.ca));
    const caReason = ca === undefined ? 'there was none' : caProblem(ca, new Date(now));
    if (ca === undefined || caReason !== undefined) {
      ca = await makeCa(`${cluster.metadata.name} chat CA (${namespace})`, new Date(now));
      await this.secrets.apply(tlsSecret(cluster, names.ca, ca));
      written.push({ name: names.ca, reason: `a new self-signed CA: ${caReason ?? ''}` });
    }

    let server = storedPair(await this.secrets.readSecret(namespace, names.tls));
    const serverReason =
      server === undefined
        ? 'there was none'
        : (serverCertificateProblem(server, ca.certificate, dnsNames, new Date(now)) ?? (server.caBundle === ca.certificate ? undefined : 'its ca.crt is not the CA'));
    if (server === undefined || serverReason !== undefined) {
      server = { ...(await issueServerCertificate(ca, dnsNames, new Date(now))), caBundle: ca.certificate };
      await this.secrets.apply(tlsSecret(cluster, names.tls, server, ca.certificate));
      written.push({ name: names.tls, reason: `a new server certificate: ${serverReason ?? ''}` });
    }

    const until = Math.min(renewalTime(server.certificate).getTime(), renewalTime(ca.certificate).getTime(), now + RECHECK_MS);
    this.trusted.set(cluster.metadata.uid, { names: fingerprint, until });
    return { recheckAt: until, written };
  }
}
