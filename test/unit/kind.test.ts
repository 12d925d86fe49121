import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { kindModuleDir } from '../../dev/env/kind/binary.js';
import { E2E_NODE_PORT, kindConfig } from '../../dev/env/kind/cluster.js';
import { afterPull, OFFICIAL_NODE_IMAGE, parseNodeImageChoice } from '../../dev/env/kind/node-image/choose.js';
import { kindStorage } from '../../dev/env/kind/node-image/images.js';
import { POD_SUBNET, restrictOomScoreAdj, staticCniConfig } from '../../dev/env/kind/node-image/rootfs.js';
import { splitImage } from '../../dev/env/kind/operator.js';

describe('which kind node image runs', () => {
  it('is the official one when it can be had, else the local one, unless told', () => {
    expect(parseNodeImageChoice(undefined)).toEqual({ use: 'official-or-local' });
    expect(parseNodeImageChoice('')).toEqual({ use: 'official-or-local' });
    expect(parseNodeImageChoice('official')).toEqual({ use: 'official' });
    expect(parseNodeImageChoice('local')).toEqual({ use: 'local' });
    expect(parseNodeImageChoice('kindest/node:v1.35.8@sha256:abc')).toEqual({ use: 'given', image: 'kindest/node:v1.35.8@sha256:abc' });
  });

  it('falls back to the local image only when the official one cannot be pulled and was not demanded', () => {
    expect(afterPull({ use: 'official-or-local' }, true)).toBe('official');
    expect(afterPull({ use: 'official-or-local' }, false)).toBe('local');
    expect(afterPull({ use: 'official' }, true)).toBe('official');
    expect(afterPull({ use: 'official' }, false)).toBe('fail');
  });

  it('officially is kind\'s image of the pinned Kubernetes release', () => {
    expect(OFFICIAL_NODE_IMAGE).toMatch(/^kindest\/node:v1\.\d+\.\d+$/);
  });
});

describe('the kind cluster config', () => {
  const local = kindConfig({ image: { image: 'chatcluster.local/kind-node:v1.35.8-abc', local: true }, hostPort: 41234 });
  const official = kindConfig({ image: { image: OFFICIAL_NODE_IMAGE, local: false }, hostPort: 41234 });

  it('publishes the API server and the e2e node port on 127.0.0.1 only', () => {
    expect(local).toContain('apiServerAddress: 127.0.0.1');
    expect(local).toContain(`containerPort: ${E2E_NODE_PORT}\n        hostPort: 41234\n        listenAddress: 127.0.0.1`);
  });

  it('turns kindnetd off only for the local image, whose static CNI config replaces it', () => {
    expect(local).toContain('disableDefaultCNI: true');
    expect(official).not.toContain('disableDefaultCNI');
  });

  it('lets the kubelet run on cgroup v1 hosts', () => {
    expect(official).toContain('kind: KubeletConfiguration\n    failCgroupV1: false');
  });
});

describe('the locally assembled node image', () => {
  let kindModule = '';
  beforeAll(async () => {
    kindModule = await kindModuleDir();
  });

  it('restricts oom_score_adj in kind\'s own containerd config', () => {
    const config = readFileSync(join(kindModule, 'images/base/files/etc/containerd/config.toml'), 'utf8');
    const edited = restrictOomScoreAdj(config);
    expect(edited).toMatch(/^\s*restrict_oom_score_adj = true$/m);
    expect(edited).not.toMatch(/restrict_oom_score_adj = false/);
    expect(() => restrictOomScoreAdj('version = 2\n')).toThrow(/restrict_oom_score_adj/);
  });

  it('installs kind\'s own storage manifest with the image names it refers to', () => {
    const storage = kindStorage(kindModule);
    expect(storage.provisionerImage).toMatch(/^docker\.io\/kindest\/local-path-provisioner:/);
    expect(storage.helperImage).toMatch(/^docker\.io\/kindest\/local-path-helper:/);
    expect(storage.manifest).toContain(`image: ${storage.provisionerImage}`);
    expect(storage.manifest).toContain('provisioner: rancher.io/local-path');
    expect(storage.manifest).not.toContain('` +');
  });

  it('networks its pods with ptp and host-local over the default pod subnet, with port mapping', () => {
    const config = JSON.parse(staticCniConfig()) as { plugins: { type: string; ipMasq?: boolean; ipam?: { ranges: { subnet: string }[][] } }[] };
    expect(config.plugins.map((plugin) => plugin.type)).toEqual(['ptp', 'portmap']);
    expect(config.plugins[0]?.ipam?.ranges[0]?.[0]?.subnet).toBe(POD_SUBNET);
  });
});

describe('image references for the chart', () => {
  it('split at the tag, not at a registry port', () => {
    expect(splitImage('chatcluster/chat-node:e2e')).toEqual({ repository: 'chatcluster/chat-node', tag: 'e2e' });
    expect(splitImage('localhost:5000/chat-node:1.2')).toEqual({ repository: 'localhost:5000/chat-node', tag: '1.2' });
    expect(splitImage('localhost:5000/chat-node')).toEqual({ repository: 'localhost:5000/chat-node', tag: 'latest' });
  });
});
