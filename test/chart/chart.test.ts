/**
 * The chatcluster-operator Helm chart on a real control plane of its own (so Helm really
 * installs the CRD, and uninstalling can be checked for leftovers without other tests'
 * objects around): lint, every rendered object accepted by the API server, the upgrade
 * from a previous release whose CRD is older (Helm leaves the CRD; the operator, run with
 * the chart's ServiceAccount and environment, upgrades it and reconciles a ChatCluster),
 * a namespaced install beside it, uninstalls that leave nothing behind, and an install
 * that skipped crds/ (the operator creates the CRD).
 */
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiextensionsV1Api, AppsV1Api, CoordinationV1Api, KubeConfig, type V1EnvVar } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { exportsOf, startParts, stopEnvironment, type EnvironmentState } from '../../dev/env/environment.js';
import { CRD_HASH_ANNOTATION, CRD_VERSION_ANNOTATION, readOwnCrd } from '../../operator/crd/upgrade.js';
import { testEnvironment } from '../support/env.js';
import { serviceAccountKubeconfig } from '../support/operator-access.js';
import { ChatClusters } from '../support/operator-chatclusters.js';
import { startOperator, stopAllOperators, type OperatorProcess } from '../support/operator-process.js';

const CHART = fileURLToPath(new URL('../../charts/chatcluster-operator', import.meta.url));
const EVERY_OPTION = fileURLToPath(new URL('every-option.values.yaml', import.meta.url));
const PACKAGE_VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
const CRD_NAME = 'chatclusters.chatcluster.dev';
const RELEASE = 'chat';
const RELEASE_NAMESPACE = 'chatcluster-system';
/** A second, namespaced install of the same release name. */
const TENANT = { namespace: 'tenant-system', watchNamespace: 'tenant-apps' };

interface ToolResult {
  code: number | null;
  output: string;
}

let cluster: EnvironmentState | undefined;
let env: NodeJS.ProcessEnv;
let admin: KubeConfig;
let dir: string;

/** Runs helm or kubectl against this file's control plane; `input` goes to stdin. */
function tool(command: 'helm' | 'kubectl', args: string[], input?: string): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      resolve({ code, output: Buffer.concat(chunks).toString('utf8') });
    });
    child.stdin.end(input);
  });
}

/** Like `tool`, but a non-zero exit fails the test with the output. */
async function ok(command: 'helm' | 'kubectl', args: string[], input?: string): Promise<string> {
  const result = await tool(command, args, input);
  if (result.code !== 0) throw new Error(`${command} ${args.join(' ')} exited ${String(result.code)}:\n${result.output}`);
  return result.output;
}

/** `helm template` output without Helm's notice about the chart's symbolic links (stderr). */
async function render(args: string[]): Promise<string> {
  return ok('helm', ['template', RELEASE, CHART, '--namespace', RELEASE_NAMESPACE, ...args]).then((text) =>
    text.split('\n').filter((line) => !line.includes('found symbolic link in path')).join('\n'),
  );
}

/** The chart as its previous release: version 0.0.1, and a CRD without the Connections column. */
function previousRelease(): string {
  const previous = join(dir, 'chatcluster-operator-previous');
  cpSync(CHART, previous, { recursive: true, dereference: true });
  const chart = parse(readFileSync(join(previous, 'Chart.yaml'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(previous, 'Chart.yaml'), stringify({ ...chart, version: '0.0.1', appVersion: '0.0.1' }));
  const crd = readOwnCrd().object as { metadata: { annotations: Record<string, string> }; spec: { versions: { additionalPrinterColumns: { name: string }[] }[] } };
  crd.metadata.annotations = { [CRD_VERSION_ANNOTATION]: '0.0.1' };
  for (const version of crd.spec.versions) version.additionalPrinterColumns = version.additionalPrinterColumns.filter((column) => column.name !== 'Connections');
  rmSync(join(previous, 'crds', 'chatcluster.yaml'));
  writeFileSync(join(previous, 'crds', 'chatcluster.yaml'), stringify(crd));
  return previous;
}

async function installedCrd(): Promise<{ annotations: Record<string, string>; columns: string[] }> {
  const crd = await admin.makeApiClient(ApiextensionsV1Api).readCustomResourceDefinition({ name: CRD_NAME });
  return {
    annotations: crd.metadata?.annotations ?? {},
    columns: crd.spec.versions.flatMap((version) => (version.additionalPrinterColumns ?? []).map((column) => column.name)),
  };
}

/** The operator container's environment as the chart's Deployment sets it, for a process outside the cluster. */
function environmentOf(variables: readonly V1EnvVar[], namespace: string, podName: string): Record<string, string> {
  const fields: Record<string, string> = { 'metadata.namespace': namespace, 'metadata.name': podName };
  return Object.fromEntries(
    variables.map((variable) => {
      const field = variable.valueFrom?.fieldRef?.fieldPath;
      const value = field === undefined ? variable.value : fields[field];
      if (value === undefined) throw new Error(`the chart sets ${variable.name} from something this test cannot resolve`);
      return [variable.name, value];
    }),
  );
}

/**
 * The operator as the chart runs it in `namespace`, but as a local process (kwok runs no
 * containers): its ServiceAccount's credentials and its Deployment's environment.
 */
async function startChartOperator(namespace: string): Promise<OperatorProcess> {
  const deployment = await admin.makeApiClient(AppsV1Api).readNamespacedDeployment({ name: `${RELEASE}-chatcluster-operator`, namespace });
  const pod = deployment.spec?.template.spec;
  const container = pod?.containers[0];
  expect(container?.image).toBe(`chatcluster/chatcluster-operator:${PACKAGE_VERSION}`);
  const kubeconfig = await serviceAccountKubeconfig(admin, { namespace, name: pod?.serviceAccountName ?? '' }, dir);
  const podName = `${RELEASE}-chatcluster-operator-local`;
  return startOperator({ kubeconfig, leaseNamespace: namespace, identity: podName, env: environmentOf(container?.env ?? [], namespace, podName) });
}

/** Every object in the cluster that carries this release's labels, as `Kind namespace/name`. */
async function releaseObjects(): Promise<string[]> {
  const kinds = 'deployments,replicasets,pods,services,serviceaccounts,configmaps,secrets,roles,rolebindings,leases,poddisruptionbudgets,servicemonitors,prometheusrules,clusterroles,clusterrolebindings,chatclusters';
  const output = await ok('kubectl', ['get', kinds, '--all-namespaces', '--selector', `app.kubernetes.io/instance=${RELEASE},app.kubernetes.io/managed-by=Helm`, '-o', 'json']);
  const list = JSON.parse(output) as { items: { kind: string; metadata: { namespace?: string; name: string } }[] };
  return list.items.map((item) => `${item.kind} ${item.metadata.namespace ?? ''}/${item.metadata.name}`);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'chart-test-'));
  cluster = await startParts(['k8s'], join(dir, 'cluster'), { ownerPid: process.pid });
  const kubeconfig = exportsOf(cluster).variables.KUBECONFIG ?? '';
  env = { ...testEnvironment().processEnv, KUBECONFIG: kubeconfig };
  admin = new KubeConfig();
  admin.loadFromFile(kubeconfig);
  for (const namespace of [RELEASE_NAMESPACE, 'chat-apps', 'monitoring']) await ok('kubectl', ['create', 'namespace', namespace]);
}, 180_000);

afterAll(async () => {
  await stopAllOperators();
  if (cluster !== undefined) await stopEnvironment(cluster);
  rmSync(dir, { recursive: true, force: true });
});

describe('the chatcluster-operator chart', () => {
  it('passes helm lint --strict with the defaults and with every option set', async () => {
    await ok('helm', ['lint', '--strict', CHART]);
    await ok('helm', ['lint', '--strict', CHART, '--values', EVERY_OPTION]);
  });

  it('refuses bad values with a message naming them', async () => {
    const badScope = await tool('helm', ['template', RELEASE, CHART, '--set', 'rbac.scope=everywhere']);
    expect(badScope.code).not.toBe(0);
    expect(badScope.output).toMatch(/rbac\/scope.*(cluster|namespace)|value must be one of/s);
    const misspelt = await tool('helm', ['template', RELEASE, CHART, '--set', 'replicas=2']);
    expect(misspelt.code).not.toBe(0);
    expect(misspelt.output).toContain("additional properties 'replicas' not allowed");
    const haWithoutElection = await tool('helm', ['template', RELEASE, CHART, '--set', 'replicaCount=2', '--set', 'leaderElection.enabled=false']);
    expect(haWithoutElection.code).not.toBe(0);
    expect(haWithoutElection.output).toContain('replicaCount > 1 needs leaderElection.enabled: true');
  });

  it('installs its previous release: the CRD from crds/, and the operator Deployment becomes Ready', async () => {
    await ok('helm', ['install', RELEASE, previousRelease(), '--namespace', RELEASE_NAMESPACE, '--set', 'replicaCount=2', '--wait', '--timeout', '120s']);
    const deployment = await admin.makeApiClient(AppsV1Api).readNamespacedDeployment({ name: `${RELEASE}-chatcluster-operator`, namespace: RELEASE_NAMESPACE });
    expect(deployment.status?.readyReplicas).toBe(2);
    const crd = await installedCrd();
    expect(crd.annotations[CRD_VERSION_ANNOTATION]).toBe('0.0.1');
    expect(crd.columns).not.toContain('Connections');
  });

  it('renders objects the API server accepts, with the defaults, every option, and the namespaced install', async () => {
    for (const args of [[], ['--values', EVERY_OPTION], ['--set', 'rbac.scope=namespace', '--set', 'sampleChatCluster.enabled=true']]) {
      const manifest = await render(args);
      const kinds = manifest.split('\n').filter((line) => line.startsWith('kind: ')).map((line) => line.slice('kind: '.length));
      expect(kinds.length, `helm template ${args.join(' ')}`).toBeGreaterThan(5);
      const accepted = await ok('kubectl', ['apply', '--dry-run=server', '--server-side', '--force-conflicts', '--field-manager=chart-dry-run', '-f', '-'], manifest);
      expect(accepted.trim().split('\n'), `server dry run of helm template ${args.join(' ')}`).toHaveLength(kinds.length);
    }
    const everything = parseAllDocuments(await render(['--values', EVERY_OPTION]))
      .map((document) => document.toJS() as { kind?: string; metadata?: { name?: string; namespace?: string } } | null)
      .flatMap((object) => (object?.kind === undefined ? [] : [`${object.kind} ${object.metadata?.namespace ?? ''}/${object.metadata?.name ?? ''}`]));
    expect(everything).toEqual(
      expect.arrayContaining([
        'Role chat-apps/chat-operator',
        'RoleBinding chat-apps/chat-operator',
        `ClusterRole /${RELEASE_NAMESPACE}-chat-operator`,
        `PodDisruptionBudget ${RELEASE_NAMESPACE}/chat-operator`,
        `ServiceMonitor ${RELEASE_NAMESPACE}/chat-operator`,
        `PrometheusRule ${RELEASE_NAMESPACE}/chat-operator`,
        'ConfigMap monitoring/chat-operator-chatcluster-overview',
        'ConfigMap monitoring/chat-operator-chatcluster-operator',
        `Lease ${RELEASE_NAMESPACE}/chat-operator`,
        'ChatCluster chat-apps/demo',
      ]),
    );
  });

  it('upgrades: Helm leaves the older CRD, and the operator it installs upgrades it, then reconciles a ChatCluster', async () => {
    const upgraded = await ok('helm', ['upgrade', RELEASE, CHART, '--namespace', RELEASE_NAMESPACE, '--set', 'replicaCount=2', '--wait', '--timeout', '120s']);
    expect((await installedCrd()).annotations[CRD_VERSION_ANNOTATION], 'Helm never upgrades crds/').toBe('0.0.1');
    // NOTES.txt: the next commands, with this release's names.
    for (const command of [
      `kubectl -n ${RELEASE_NAMESPACE} rollout status deployment/${RELEASE}-chatcluster-operator`,
      'kubectl port-forward svc/demo-chat 8080:8080',
      "kubectl get secret demo-chat-jwt -o jsonpath='{.data.secret}' | base64 -d",
    ]) expect(upgraded).toContain(command);

    const operator = await startChartOperator(RELEASE_NAMESPACE);
    const podName = operator.identity;

    const own = readOwnCrd();
    await vi.waitFor(async () => {
      const crd = await installedCrd();
      expect(crd.annotations[CRD_VERSION_ANNOTATION]).toBe(PACKAGE_VERSION);
      expect(crd.annotations[CRD_HASH_ANNOTATION]).toBe(own.hash);
      expect(crd.columns).toContain('Connections');
    }, { timeout: 30_000, interval: 250 });

    const chatClusters = new ChatClusters(admin, 'chat-apps');
    await chatClusters.create('demo', {});
    await chatClusters.waitForReady('demo', 90_000);
    const lease = await admin.makeApiClient(CoordinationV1Api).readNamespacedLease({ name: `${RELEASE}-chatcluster-operator`, namespace: RELEASE_NAMESPACE });
    expect(lease.spec?.holderIdentity).toBe(podName);
    expect(lease.metadata?.labels?.['app.kubernetes.io/managed-by'], 'the operator keeps the chart’s labels on the Lease').toBe('Helm');
    expect(lease.metadata?.annotations?.['meta.helm.sh/release-name']).toBe(RELEASE);
    // Helm still owns the Lease the operator renews: another upgrade goes through.
    await ok('helm', ['upgrade', RELEASE, CHART, '--namespace', RELEASE_NAMESPACE, '--set', 'replicaCount=2', '--set', 'logLevel=debug', '--wait', '--timeout', '120s']);
    expect(operator.warnings(), operator.tail()).toEqual([]);
    await chatClusters.delete('demo');
    await operator.stop();
  });

  it('installs namespaced beside it: that operator, with the chart’s Role, reconciles a ChatCluster of its one namespace', async () => {
    for (const namespace of [TENANT.namespace, TENANT.watchNamespace]) await ok('kubectl', ['create', 'namespace', namespace]);
    // The same release name as the cluster-wide install: cluster-scoped names carry the namespace.
    await ok('helm', ['install', RELEASE, CHART, '--namespace', TENANT.namespace, '--set', 'rbac.scope=namespace', '--set', `watchNamespace=${TENANT.watchNamespace}`, '--wait', '--timeout', '120s']);
    const operator = await startChartOperator(TENANT.namespace);
    const chatClusters = new ChatClusters(admin, TENANT.watchNamespace);
    await chatClusters.create('team', {});
    await chatClusters.waitForReady('team', 90_000);
    expect(operator.warnings(), operator.tail()).toEqual([]);
    await chatClusters.delete('team');
    await operator.stop();
  });

  it('uninstalls leaving nothing of either release behind but the CRD', async () => {
    expect(await releaseObjects()).not.toEqual([]);
    for (const namespace of [RELEASE_NAMESPACE, TENANT.namespace]) await ok('helm', ['uninstall', RELEASE, '--namespace', namespace, '--wait', '--timeout', '120s']);
    await vi.waitFor(async () => {
      expect(await releaseObjects()).toEqual([]);
    }, { timeout: 60_000, interval: 500 });
    // By name too: an object re-created without the chart's labels would escape the selector.
    const leases = await ok('kubectl', ['get', 'leases', '--all-namespaces', '-o', 'name']);
    expect(leases).not.toContain('chatcluster-operator');
    const clusterRbac = await ok('kubectl', ['get', 'clusterroles,clusterrolebindings', '-o', 'name']);
    expect(clusterRbac).not.toContain('chatcluster-operator');
    expect(JSON.parse(await ok('helm', ['list', '--all-namespaces', '--all', '-o', 'json']))).toEqual([]);
    // Helm's policy for crds/, and ours: deleting the CRD would delete every ChatCluster with it.
    expect((await installedCrd()).annotations[CRD_VERSION_ANNOTATION]).toBe(PACKAGE_VERSION);
  });

  it('installed with --skip-crds (as some GitOps tools do), the operator creates the CRD itself', async () => {
    await ok('kubectl', ['delete', 'crd', CRD_NAME, '--wait']);
    await ok('helm', ['install', RELEASE, CHART, '--namespace', RELEASE_NAMESPACE, '--skip-crds', '--wait', '--timeout', '120s']);
    const operator = await startChartOperator(RELEASE_NAMESPACE);
    await vi.waitFor(async () => {
      expect((await installedCrd()).annotations[CRD_HASH_ANNOTATION]).toBe(readOwnCrd().hash);
    }, { timeout: 30_000, interval: 250 });
    const chatClusters = new ChatClusters(admin, 'chat-apps');
    await chatClusters.create('after-skip', {});
    await chatClusters.waitForReady('after-skip', 90_000);
    expect(operator.warnings(), operator.tail()).toEqual([]);
    await operator.stop();
  });
});
