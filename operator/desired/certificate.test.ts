import { describe, expect, it } from 'vitest';
import { desiredCertificate } from './certificate.js';
import { certificateDnsNames } from './encryption.js';
import { appliedObjects, chatClusterOf } from '../../test/support/chatcluster-fixture.js';

const cluster = chatClusterOf;

describe('the cert-manager Certificate of spec.tls.issuerRef', () => {
  const issued = cluster({ tls: { issuerRef: { name: 'team-ca', kind: 'Issuer' } } });

  it('asks the issuer for <name>-tls, for the names the self-signed certificate would cover', () => {
    const certificate = desiredCertificate(issued);
    expect(certificate).toMatchObject({ apiVersion: 'cert-manager.io/v1', kind: 'Certificate', metadata: { name: 'demo-tls', namespace: 'team-a' } });
    expect(certificate?.metadata?.ownerReferences?.[0]).toMatchObject({ kind: 'ChatCluster', uid: 'uid-1', controller: true });
    expect(certificate?.spec).toMatchObject({ secretName: 'demo-tls', issuerRef: { name: 'team-ca', kind: 'Issuer' }, dnsNames: certificateDnsNames(issued) });
    expect(certificate?.spec.issuerRef).not.toHaveProperty('group');
    expect(certificate?.spec.usages).toEqual(expect.arrayContaining(['server auth', 'client auth']));
  });

  it('passes an issuer group through (an external issuer)', () => {
    expect(desiredCertificate(cluster({ tls: { issuerRef: { name: 'pca', kind: 'ClusterIssuer', group: 'awspca.cert-manager.io' } } }))?.spec.issuerRef).toEqual({
      name: 'pca',
      kind: 'ClusterIssuer',
      group: 'awspca.cert-manager.io',
    });
  });

  it('is made for issuerRef only, and applied before the objects that mount its Secret', () => {
    for (const tls of [undefined, { selfSigned: true }, { secretName: 'mine' }]) expect(desiredCertificate(cluster({ tls }))).toBeUndefined();
    const kinds = appliedObjects(issued).map((object) => object.kind);
    expect(kinds.indexOf('Certificate')).toBeLessThan(kinds.indexOf('Deployment'));
    expect(kinds.indexOf('Certificate')).toBeLessThan(kinds.indexOf('StatefulSet'));
  });
});
