import { readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Launcher } from '../launcher.js';
import { freePort } from '../ports.js';
import { run, waitUntilReady } from '../process.js';
import { answersOk } from '../probes.js';
import { adminConnection, apiRequest, type AdminConnection } from './api.js';
import type { KubernetesBinaries } from './binaries.js';
import { makeControlPlanePki, type ControlPlanePki } from './pki.js';

const KWOK_STAGES = fileURLToPath(new URL('kwok.yaml', import.meta.url));
const SERVICE_ACCOUNT_ISSUER = 'https://kubernetes.default.svc.cluster.local';
/** Fake nodes kwok keeps Ready, spread over zones so topology spread can be exercised. */
const FAKE_NODES = ['kwok-node-0', 'kwok-node-1', 'kwok-node-2'];

export interface RunningKubernetes {
  kubeconfig: string;
  server: string;
  /** The folder holding kubectl, for PATH. */
  kubectlDir: string;
}

/**
 * Starts etcd, kube-apiserver (client-certificate and service-account authentication,
 * RBAC), kube-controller-manager, kube-scheduler and kwok with three fake nodes, and
 * writes an admin kubeconfig. Resolves once nodes are Ready and the default
 * ServiceAccount exists, i.e. when a Deployment can get Ready pods.
 */
export async function startKubernetes(binaries: KubernetesBinaries, launcher: Launcher): Promise<RunningKubernetes> {
  const [etcdClientPort, etcdPeerPort, apiserverPort] = await Promise.all(Array.from({ length: 3 }, () => freePort()));
  const pki = await makeControlPlanePki(launcher.path('pki'));

  const etcdUrl = `http://127.0.0.1:${etcdClientPort}`;
  const etcdPeerUrl = `http://127.0.0.1:${etcdPeerPort}`;
  await launcher.start(
    'etcd',
    binaries.etcd,
    [
      '--name=testenv',
      `--data-dir=${launcher.path('etcd')}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=${etcdPeerUrl}`,
      `--initial-advertise-peer-urls=${etcdPeerUrl}`,
      `--initial-cluster=testenv=${etcdPeerUrl}`,
      // Throw-away data: durability is not what these tests are about, speed is.
      '--unsafe-no-fsync',
    ],
    () => answersOk(`${etcdUrl}/health`),
  );

  const server = `https://127.0.0.1:${apiserverPort}`;
  const admin = adminConnection(server, pki);
  await launcher.start(
    'kube-apiserver',
    binaries.kubeApiserver,
    [
      `--etcd-servers=${etcdUrl}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${apiserverPort}`,
      `--cert-dir=${launcher.path('apiserver-certs')}`,
      `--tls-cert-file=${pki.servingCert}`,
      `--tls-private-key-file=${pki.servingKey}`,
      `--client-ca-file=${pki.caCert}`,
      `--service-account-issuer=${SERVICE_ACCOUNT_ISSUER}`,
      `--api-audiences=${SERVICE_ACCOUNT_ISSUER}`,
      `--service-account-key-file=${pki.serviceAccountPublicKey}`,
      `--service-account-signing-key-file=${pki.serviceAccountKey}`,
      '--authorization-mode=RBAC',
      '--service-cluster-ip-range=10.96.0.0/16',
      '--allow-privileged=true',
      '--profiling=false',
    ],
    async () => (await apiRequest(admin, 'GET', '/readyz')).status === 200,
    { timeoutMs: 90_000 },
  );

  const kubeconfig = launcher.path('kubeconfig');
  writeFileSync(kubeconfig, adminKubeconfig(server, pki), { mode: 0o600 });

  // Ports picked as each starts: by now etcd's and the API server's connections hold many
  // ephemeral ports, and one picked earlier may have become one of them.
  await Promise.all([
    launcher.startOnFreePort(
      'kube-controller-manager',
      binaries.kubeControllerManager,
      (port) => [
        `--kubeconfig=${kubeconfig}`,
        '--bind-address=127.0.0.1',
        `--secure-port=${port}`,
        '--leader-elect=false',
        `--root-ca-file=${pki.caCert}`,
        `--service-account-private-key-file=${pki.serviceAccountKey}`,
        `--cluster-signing-cert-file=${pki.caCert}`,
        `--cluster-signing-key-file=${pki.caKey}`,
        '--profiling=false',
      ],
      (port) => () => answersOk(`https://127.0.0.1:${port}/healthz`),
    ),
    launcher.startOnFreePort(
      'kube-scheduler',
      binaries.kubeScheduler,
      (port) => [
        `--kubeconfig=${kubeconfig}`,
        '--bind-address=127.0.0.1',
        `--secure-port=${port}`,
        '--leader-elect=false',
        '--profiling=false',
      ],
      (port) => () => answersOk(`https://127.0.0.1:${port}/healthz`),
    ),
    launcher.startOnFreePort(
      'kwok',
      binaries.kwok,
      (port) => [
        `--kubeconfig=${kubeconfig}`,
        `--config=${KWOK_STAGES}`,
        `--server-address=127.0.0.1:${port}`,
        '--manage-all-nodes=true',
        // kwok renews each fake node's Lease, which is what keeps the node-lifecycle controller content.
        '--node-lease-duration-seconds=40',
        '--cidr=10.244.0.0/16',
        '--node-ip=10.240.0.1',
      ],
      (port) => () => answersOk(`http://127.0.0.1:${port}/healthz`),
    ),
  ]);

  await Promise.all(FAKE_NODES.map((name, index) => createFakeNode(admin, name, index)));
  await createVolumePool(admin);
  // Like most production clusters, this one has the Prometheus Operator's CRDs: the operator
  // creates ServiceMonitors and the chart its ServiceMonitor and PrometheusRule, each checked
  // by its real schema. From the start, so every test sees the same cluster.
  await run(binaries.kubectl, [`--kubeconfig=${kubeconfig}`, 'apply', '--server-side', '-f', binaries.monitoringCrds]);
  await run(binaries.kubectl, [`--kubeconfig=${kubeconfig}`, 'wait', '--for=condition=Established', '--timeout=60s', '-f', binaries.monitoringCrds]);
  await waitUntilReady(launcher.process('kwok'), () => nodesReady(admin), 60_000);
  // The ServiceAccount controller makes `default`; pods cannot be admitted before it exists.
  await waitUntilReady(
    launcher.process('kube-controller-manager'),
    async () => (await apiRequest(admin, 'GET', '/api/v1/namespaces/default/serviceaccounts/default')).status === 200,
    60_000,
  );

  return { kubeconfig, server, kubectlDir: dirname(binaries.kubectl) };
}

/** An admin kubeconfig with everything embedded; JSON, which every kubeconfig reader accepts. */
function adminKubeconfig(server: string, pki: ControlPlanePki): string {
  const base64 = (file: string): string => readFileSync(file).toString('base64');
  return JSON.stringify(
    {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'testenv', cluster: { server, 'certificate-authority-data': base64(pki.caCert) } }],
      users: [
        {
          name: 'testenv-admin',
          user: { 'client-certificate-data': base64(pki.adminCert), 'client-key-data': base64(pki.adminKey) },
        },
      ],
      contexts: [{ name: 'testenv', context: { cluster: 'testenv', user: 'testenv-admin', namespace: 'default' } }],
      'current-context': 'testenv',
    },
    null,
    2,
  );
}

async function createFakeNode(admin: AdminConnection, name: string, index: number): Promise<void> {
  const node = {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      labels: {
        'kubernetes.io/hostname': name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        'topology.kubernetes.io/zone': `zone-${index}`,
        type: 'kwok',
      },
      annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
    },
  };
  const response = await apiRequest(admin, 'POST', '/api/v1/nodes', node);
  if (response.status !== 201 && response.status !== 409) {
    throw new Error(`creating fake node ${name}: HTTP ${response.status} ${response.body}`);
  }
}

/** How many volumes the pool holds: StatefulSets of every test's ChatClusters claim from it. */
const POOL_VOLUMES = 150;

/**
 * Pre-made PersistentVolumes, as a cluster with a static provisioner has: kwok runs no
 * storage driver, so without them a volume claim (Redis, Cassandra) stays Pending and so
 * does its pod. The controller-manager binds claims to them as it would on a real cluster.
 */
async function createVolumePool(admin: AdminConnection): Promise<void> {
  await Promise.all(
    Array.from({ length: POOL_VOLUMES }, async (_, index) => {
      const name = `testenv-pv-${index}`;
      const volume = {
        apiVersion: 'v1',
        kind: 'PersistentVolume',
        metadata: { name, labels: { 'chatcluster.dev/testenv-pool': 'true' } },
        spec: {
          capacity: { storage: '100Gi' },
          accessModes: ['ReadWriteOnce'],
          persistentVolumeReclaimPolicy: 'Retain',
          storageClassName: '',
          hostPath: { path: `/var/lib/testenv/${name}` },
        },
      };
      const response = await apiRequest(admin, 'POST', '/api/v1/persistentvolumes', volume);
      if (response.status !== 201 && response.status !== 409) throw new Error(`creating ${name}: HTTP ${response.status} ${response.body}`);
    }),
  );
}

async function nodesReady(admin: AdminConnection): Promise<boolean> {
  const response = await apiRequest(admin, 'GET', '/api/v1/nodes');
  if (response.status !== 200) return false;
  const list = JSON.parse(response.body) as { items: { status?: { conditions?: { type: string; status: string }[] } }[] };
  const ready = list.items.filter((node) =>
    node.status?.conditions?.some((condition) => condition.type === 'Ready' && condition.status === 'True'),
  );
  return ready.length >= FAKE_NODES.length;
}
