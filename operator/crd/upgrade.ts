/**
 * Keeps the installed ChatCluster CRD as new as this operator. Helm installs a chart's
 * `crds/` once and never upgrades them, so with `MANAGE_CRD=true` (the chart's default) the
 * operator applies its own copy at start, before it watches anything: `helm upgrade` then
 * upgrades the CRD along with the operator, and an older replica (mid-rollout) never
 * downgrades it.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { KubeConfig } from '@kubernetes/client-node';
import semver from 'semver';
import { parse } from 'yaml';
import type { Logger } from '../../common/log.js';
import { FIELD_MANAGER } from '../reconcile/kube.js';
import { ApiError, rawRequest } from '../runtime/raw-api.js';

/** The release that wrote a CRD (set in crds/chatcluster.yaml, kept equal to the package version by a test). */
export const CRD_VERSION_ANNOTATION = 'chatcluster.dev/version';
/** A hash of the file the operator applied, so an equal version with other content (a dev build) is applied too. */
export const CRD_HASH_ANNOTATION = 'chatcluster.dev/crd-hash';

/** crds/chatcluster.yaml of the package this module belongs to, from source (tsx) or from dist/ alike. */
function shippedCrdFile(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); dir !== dirname(dir); dir = dirname(dir)) {
    const candidate = join(dir, 'crds', 'chatcluster.yaml');
    if (existsSync(candidate)) return candidate;
  }
  throw new Error('crds/chatcluster.yaml is not beside this operator (the image must ship it)');
}
const ESTABLISHED_TIMEOUT_MS = 30_000;

/** The parts of a CustomResourceDefinition this module reads, as plain JSON. */
interface Crd {
  metadata?: { name?: string; annotations?: Record<string, string> };
  status?: { conditions?: { type: string; status: string }[] };
}

/** The CRD this operator ships, and what identifies it. */
export interface OwnCrd {
  object: Crd;
  version: string;
  hash: string;
}

export type CrdDecision =
  | { action: 'apply'; reason: string }
  | { action: 'keep'; reason: string };

/** Whether to apply `own` over what the API server has (`installed`, undefined when there is none). */
export function decideCrdUpgrade(own: { version: string; hash: string }, installed: { annotations?: Record<string, string> } | undefined): CrdDecision {
  if (installed === undefined) return { action: 'apply', reason: 'not installed' };
  const installedVersion = semver.valid(installed.annotations?.[CRD_VERSION_ANNOTATION]);
  if (installedVersion === null) return { action: 'apply', reason: 'installed without a version' };
  if (semver.gt(installedVersion, own.version)) {
    return { action: 'keep', reason: `installed by a newer release (${installedVersion}); this operator is ${own.version}` };
  }
  if (semver.lt(installedVersion, own.version)) return { action: 'apply', reason: `upgrading from ${installedVersion} to ${own.version}` };
  if (installed.annotations?.[CRD_HASH_ANNOTATION] !== own.hash) return { action: 'apply', reason: `version ${own.version} with other content` };
  return { action: 'keep', reason: 'up to date' };
}

/** crds/chatcluster.yaml as this operator applies it. */
export function readOwnCrd(file: string = shippedCrdFile()): OwnCrd {
  const text = readFileSync(file, 'utf8');
  const object = parse(text) as Crd;
  const version = semver.valid(object.metadata?.annotations?.[CRD_VERSION_ANNOTATION]);
  if (version === null) throw new Error(`${file} has no valid ${CRD_VERSION_ANNOTATION} annotation`);
  const hash = createHash('sha256').update(text).digest('hex').slice(0, 16);
  const annotations = { ...object.metadata?.annotations, [CRD_HASH_ANNOTATION]: hash };
  return { object: { ...object, metadata: { ...object.metadata, annotations } }, version, hash };
}

/**
 * Applies the operator's CRD when `decideCrdUpgrade` says so, and waits until it is
 * Established (which matters when it was created). Not allowed to read it: leaves it.
 */
export async function upgradeOwnCrd(kubeConfig: KubeConfig, log: Logger, own: OwnCrd = readOwnCrd()): Promise<CrdDecision> {
  const name = own.object.metadata?.name ?? '';
  const path = `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`;
  let installed: Crd | undefined;
  try {
    installed = await rawRequest<Crd>(kubeConfig, 'GET', path);
  } catch (error) {
    if (error instanceof ApiError && error.statusCode === 403) {
      // Installed with RBAC of its own making (no crdUpgradeRules): manage ChatClusters with
      // whatever CRD is there, as without MANAGE_CRD, rather than not at all.
      log.warn({ crd: name, err: error }, 'not allowed to read the CRD; leaving it to whoever installed it');
      return { action: 'keep', reason: 'forbidden' };
    }
    if (!(error instanceof ApiError && error.statusCode === 404)) throw error;
  }
  const decision = decideCrdUpgrade(own, installed?.metadata);
  if (decision.action === 'keep') {
    log.info({ crd: name, reason: decision.reason }, 'CRD left as it is');
    return decision;
  }
  // Forced: Helm (or kubectl) created it under another field manager, and this copy is the newer truth.
  await rawRequest(kubeConfig, 'PATCH', `${path}?fieldManager=${FIELD_MANAGER}&force=true`, own.object, { contentType: 'application/apply-patch+yaml' });
  await waitEstablished(kubeConfig, path);
  log.info({ crd: name, version: own.version, reason: decision.reason }, 'CRD applied');
  return decision;
}

async function waitEstablished(kubeConfig: KubeConfig, path: string): Promise<void> {
  const deadline = Date.now() + ESTABLISHED_TIMEOUT_MS;
  for (;;) {
    const crd = await rawRequest<Crd>(kubeConfig, 'GET', path);
    if (crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True') === true) return;
    if (Date.now() > deadline) throw new Error(`${path} applied but not Established after ${ESTABLISHED_TIMEOUT_MS / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
