import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../process.js';
import { requireCommand } from '../tools.js';

/** The certificates and keys of one test control plane, as file paths. */
export interface ControlPlanePki {
  caCert: string;
  caKey: string;
  servingCert: string;
  servingKey: string;
  adminCert: string;
  adminKey: string;
  serviceAccountKey: string;
  serviceAccountPublicKey: string;
}

/** Addresses the API server's certificate is valid for, in-cluster names included. */
const SERVING_NAMES = [
  'IP:127.0.0.1',
  'IP:10.96.0.1',
  'DNS:localhost',
  'DNS:kubernetes',
  'DNS:kubernetes.default',
  'DNS:kubernetes.default.svc',
  'DNS:kubernetes.default.svc.cluster.local',
];

/**
 * Makes a throw-away CA, the API server's serving certificate, an admin client
 * certificate (group system:masters) and the service-account signing key pair,
 * in the manner of controller-runtime's envtest. EC P-256 keys keep this fast.
 */
export async function makeControlPlanePki(dir: string): Promise<ControlPlanePki> {
  const openssl = requireCommand('openssl', "install the Debian/Ubuntu package 'openssl'");
  mkdirSync(dir, { recursive: true });
  const file = (name: string): string => join(dir, name);
  const ecKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const days = ['-days', '30'];

  await run(openssl, ['req', '-x509', ...ecKey, ...days, '-subj', '/CN=chatcluster-testenv-ca',
    '-keyout', file('ca.key'), '-out', file('ca.crt')]);
  const signed = (name: string, subject: string, extensions: readonly string[]): Promise<string> =>
    run(openssl, ['req', '-x509', ...ecKey, ...days, '-subj', subject,
      '-CA', file('ca.crt'), '-CAkey', file('ca.key'),
      ...extensions.flatMap((extension) => ['-addext', extension]),
      '-keyout', file(`${name}.key`), '-out', file(`${name}.crt`)]);
  await Promise.all([
    signed('apiserver', '/CN=kube-apiserver', [
      `subjectAltName=${SERVING_NAMES.join(',')}`,
      'extendedKeyUsage=serverAuth',
      'basicConstraints=critical,CA:FALSE',
    ]),
    signed('admin', '/O=system:masters/CN=chatcluster-testenv-admin', [
      'extendedKeyUsage=clientAuth',
      'basicConstraints=critical,CA:FALSE',
    ]),
    run(openssl, ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-out', file('sa.key')]),
  ]);
  await run(openssl, ['pkey', '-in', file('sa.key'), '-pubout', '-out', file('sa.pub')]);

  return {
    caCert: file('ca.crt'),
    caKey: file('ca.key'),
    servingCert: file('apiserver.crt'),
    servingKey: file('apiserver.key'),
    adminCert: file('admin.crt'),
    adminKey: file('admin.key'),
    serviceAccountKey: file('sa.key'),
    serviceAccountPublicKey: file('sa.pub'),
  };
}
