import { createPrivateKey, createPublicKey, sign, verify, X509Certificate } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { caProblem, dnsNamesOf, issueServerCertificate, makeCa, renewalTime, serverCertificateProblem, type CertifiedKey } from './self-signed.js';

const NOW = new Date('2026-01-10T12:00:00Z');
const DAY = 24 * 60 * 60 * 1000;
const NAMES = ['demo-chat', 'demo-chat.team-a', 'demo-chat.team-a.svc', 'demo-chat.team-a.svc.cluster.local', '*.demo-redis.team-a.svc'];

describe('the self-signed CA and its server certificates', () => {
  let ca: CertifiedKey;
  let server: CertifiedKey;

  beforeAll(async () => {
    ca = await makeCa('demo chat CA', NOW);
    server = await issueServerCertificate(ca, NAMES, NOW);
  });

  it('makes a CA that Node reads as a CA, self-issued, valid ten years from a little before now', () => {
    const certificate = new X509Certificate(ca.certificate);
    expect(certificate.ca).toBe(true);
    expect(certificate.subject).toBe('CN=demo chat CA');
    expect(certificate.checkIssued(certificate)).toBe(true);
    expect(certificate.verify(certificate.publicKey)).toBe(true);
    expect(Date.parse(certificate.validFrom)).toBeLessThanOrEqual(NOW.getTime());
    expect(Date.parse(certificate.validTo) - NOW.getTime()).toBeGreaterThan(3649 * DAY);
    expect(certificate.checkPrivateKey(createPrivateKey(ca.privateKey))).toBe(true);
  });

  it('issues a server certificate the CA verifies, for exactly the names asked, not a CA itself', () => {
    const certificate = new X509Certificate(server.certificate);
    const issuer = new X509Certificate(ca.certificate);
    expect(certificate.checkIssued(issuer)).toBe(true);
    expect(certificate.verify(issuer.publicKey)).toBe(true);
    expect(certificate.ca).toBe(false);
    expect(certificate.issuer).toBe(issuer.subject);
    expect(dnsNamesOf(server.certificate)).toEqual([...NAMES].sort());
    expect(certificate.checkHost('demo-chat.team-a.svc.cluster.local')).toBe('demo-chat.team-a.svc.cluster.local');
    // A Redis or Cassandra pod's own name, through the wildcard.
    expect(certificate.checkHost('demo-redis-2.demo-redis.team-a.svc')).toBe('*.demo-redis.team-a.svc');
    expect(certificate.checkHost('demo-chat.other.svc')).toBeUndefined();
    expect(certificate.keyUsage).toEqual(expect.arrayContaining(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']));
  });

  it('is valid from a little before now for 90 days, and due for renewal two thirds in (day 60)', () => {
    const certificate = new X509Certificate(server.certificate);
    expect(Date.parse(certificate.validFrom)).toBeLessThanOrEqual(NOW.getTime());
    expect(Date.parse(certificate.validTo)).toBe(NOW.getTime() + 90 * DAY);
    expect(Math.abs(renewalTime(server.certificate).getTime() - (NOW.getTime() + 60 * DAY))).toBeLessThan(5 * 60 * 1000);
  });

  it('hands out keys in PKCS#8 PEM that sign what the certificate’s public key verifies', () => {
    expect(server.privateKey).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    const signature = sign('sha256', Buffer.from('hello'), createPrivateKey(server.privateKey));
    expect(verify('sha256', Buffer.from('hello'), new X509Certificate(server.certificate).publicKey, signature)).toBe(true);
    expect(verify('sha256', Buffer.from('hello'), createPublicKey(ca.privateKey), signature)).toBe(false);
  });

  it('gives each certificate a new key and serial', async () => {
    const again = await issueServerCertificate(ca, NAMES, NOW);
    expect(again.privateKey).not.toBe(server.privateKey);
    expect(new X509Certificate(again.certificate).serialNumber).not.toBe(new X509Certificate(server.certificate).serialNumber);
  });

  describe('deciding whether a stored certificate still serves', () => {
    it('keeps a good one until two thirds of its lifetime', () => {
      expect(serverCertificateProblem(server, ca.certificate, NAMES, new Date(NOW.getTime() + 59 * DAY))).toBeUndefined();
      expect(serverCertificateProblem(server, ca.certificate, NAMES, new Date(NOW.getTime() + 61 * DAY))).toBe('it is two thirds into its lifetime');
    });

    it('replaces one the names changed for, in any order', () => {
      expect(serverCertificateProblem(server, ca.certificate, [...NAMES].reverse(), NOW)).toBeUndefined();
      expect(serverCertificateProblem(server, ca.certificate, [...NAMES, 'demo-cassandra'], NOW)).toBe('the names it must cover changed');
    });

    it('replaces one another CA signed, one whose key is not its own, and one that does not parse', async () => {
      const other = await makeCa('other', NOW);
      expect(serverCertificateProblem(server, other.certificate, NAMES, NOW)).toBe('it is not signed by the current CA');
      expect(serverCertificateProblem({ ...server, privateKey: ca.privateKey }, ca.certificate, NAMES, NOW)).toBe('its key does not match');
      expect(serverCertificateProblem({ certificate: 'garbage', privateKey: server.privateKey }, ca.certificate, NAMES, NOW)).toBe('it does not parse');
    });

    it('keeps a CA for two thirds of its ten years, and never takes a server certificate for one', () => {
      expect(caProblem(ca, NOW)).toBeUndefined();
      expect(caProblem(ca, new Date(NOW.getTime() + 2500 * DAY))).toBe('it is two thirds into its lifetime');
      expect(caProblem(server, NOW)).toBe('it is not a CA with its key');
    });
  });
});
