import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubernetesObject, V1Deployment, V1Job, V1StatefulSet } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CASSANDRA_IMAGE_START } from './cassandra-start.js';
import { CASSANDRA_KEYSTORE_DIR, CASSANDRA_TLS_DIR, cassandraTlsSetupScript } from './cassandra-tls.js';
import { desiredCassandra } from './dependencies.js';
import { appliedObjects, chatClusterOf } from '../../test/support/chatcluster-fixture.js';

const cluster = chatClusterOf;

const SELF_SIGNED = { tls: { selfSigned: true } };

/** The shape of the image's cassandra.yaml around the blocks the script replaces (Cassandra 5.0's defaults). */
const IMAGE_YAML = `cluster_name: 'Test Cluster'
# Server encryption: between peers.
server_encryption_options:
  # On outbound connections, determine which type of peers to securely connect to.
  internode_encryption: none

  legacy_ssl_storage_port_enabled: false
  keystore: conf/.keystore
  keystore_password: cassandra
  require_client_auth: false
# Client encryption.
client_encryption_options:
  enabled: false
  keystore: conf/.keystore
  keystore_password: cassandra
  # require_client_auth: false

# internode_compression controls whether traffic between nodes is compressed.
internode_compression: dc
native_transport_port: 9042
`;

describe('the managed Cassandra with the ChatCluster’s certificate', () => {
  const statefulSet = desiredCassandra(cluster(SELF_SIGNED))?.statefulSet as V1StatefulSet;
  const pod = statefulSet.spec?.template.spec;
  const container = pod?.containers[0];

  it('mounts <name>-tls and an in-memory folder for the keystore, and starts through the TLS script', () => {
    expect(pod?.volumes).toEqual([
      { name: 'tls', secret: { secretName: 'demo-tls', defaultMode: 0o440 } },
      { name: 'keystore', emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } },
    ]);
    expect(container?.volumeMounts).toContainEqual({ name: 'tls', mountPath: CASSANDRA_TLS_DIR, readOnly: true });
    expect(container?.command).toEqual(['/bin/sh', '-c', `${cassandraTlsSetupScript()}\n${CASSANDRA_IMAGE_START}\n`]);
    expect(container?.command?.[2]).toMatch(/\nexec docker-entrypoint\.sh cassandra -f\n$/);
  });

  it('rewrites cassandra.yaml to one set of encryption blocks: TLS required from clients and between peers, PEM files, and the rest kept', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cassandra-tls-'));
    try {
      writeFileSync(join(dir, 'cassandra.yaml'), IMAGE_YAML);
      const keystore = join(dir, 'keystore');
      mkdirSync(keystore);
      const script = cassandraTlsSetupScript()
        .replaceAll('/etc/cassandra/cassandra.yaml', join(dir, 'cassandra.yaml'))
        .replaceAll(CASSANDRA_KEYSTORE_DIR, keystore)
        .replaceAll(CASSANDRA_TLS_DIR, dir)
        .replace(/\(\n[\s\S]*?\n\) &\n/, '');
      writeFileSync(join(dir, 'tls.key'), 'KEY\n');
      writeFileSync(join(dir, 'tls.crt'), 'CERT\n');
      // Twice: a restarted container finds its own blocks and replaces them again.
      for (let run = 0; run < 2; run += 1) execFileSync('/bin/sh', ['-c', script]);
      expect(readFileSync(join(keystore, 'keystore.pem'), 'utf8')).toBe('KEY\nCERT\n');
      // yaml refuses duplicate keys: there is one block of each.
      const config = parse(readFileSync(join(dir, 'cassandra.yaml'), 'utf8')) as Record<string, unknown>;
      const material = {
        ssl_context_factory: { class_name: 'org.apache.cassandra.security.PEMBasedSslContextFactory' },
        keystore: join(keystore, 'keystore.pem'),
        truststore: `${dir}/ca.crt`,
      };
      expect(config.client_encryption_options).toEqual({ enabled: true, optional: false, ...material, require_client_auth: false });
      expect(config.server_encryption_options).toEqual({ internode_encryption: 'all', optional: false, ...material, require_client_auth: true });
      expect(config).toMatchObject({ cluster_name: 'Test Cluster', internode_compression: 'dc', native_transport_port: 9042 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('points every chat container at Cassandra over TLS with the CA from <name>-tls', () => {
    const objects: KubernetesObject[] = appliedObjects(cluster(SELF_SIGNED));
    for (const kind of ['Deployment', 'Job']) {
      const chatPod = (objects.find((object) => object.kind === kind) as V1Deployment | V1Job).spec?.template.spec;
      expect(chatPod?.containers[0]?.env).toEqual(expect.arrayContaining([
        { name: 'CHAT_CASSANDRA_TLS', value: 'true' },
        { name: 'CHAT_CASSANDRA_CA_FILE', value: '/etc/chat/cassandra-ca/ca.crt' },
      ]));
      expect(chatPod?.volumes).toContainEqual({ name: 'cassandra-ca', secret: { secretName: 'demo-tls', defaultMode: 0o444, items: [{ key: 'ca.crt', path: 'ca.crt' }] } });
    }
  });

  it('speaks TLS from <name>-tls with a certificate of the user’s own too, and stays plaintext without spec.tls', () => {
    const own = desiredCassandra(cluster({ tls: { secretName: 'public-cert' } }))?.statefulSet.spec?.template.spec;
    expect(own?.containers[0]?.command?.join(' ')).toContain('client_encryption_options');
    expect(own?.volumes).toContainEqual({ name: 'tls', secret: { secretName: 'demo-tls', defaultMode: 0o440 } });
    const plain = desiredCassandra(cluster({}))?.statefulSet.spec?.template.spec;
    expect(plain?.containers[0]?.command).toBeUndefined();
    expect(plain?.volumes).toBeUndefined();
  });
});
