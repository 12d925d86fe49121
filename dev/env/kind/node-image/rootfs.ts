import { chmodSync, cpSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { run } from '../../process.js';
import { slowStep } from '../../progress.js';
import { ensureDebianPackage } from '../../tools.js';
import { versions } from '../../versions.js';

/** Debian's mirror, the one registry this kind of machine reaches for system packages. */
export const DEBIAN_MIRROR = 'http://deb.debian.org/debian';
export const DEBIAN_SUITE = 'bookworm';

/**
 * What a kind node runs, from Debian: systemd as PID 1, containerd and runc for the pods,
 * iptables, nft and conntrack for kube-proxy and kind's entrypoint, the CNI plugins the
 * static pod network uses (kindnetd cannot be had without a registry).
 */
export const NODE_PACKAGES = [
  'systemd', 'systemd-sysv', 'dbus', 'containerd', 'runc', 'iptables', 'nftables', 'conntrack', 'iproute2', 'ethtool',
  'ca-certificates', 'kmod', 'mount', 'util-linux', 'procps', 'bash', 'jq', 'libseccomp2', 'pigz',
  'containernetworking-plugins',
] as const;

/** Paths of what the node layer adds to the Debian base. */
export interface NodeFiles {
  /** The kind module's folder (images/base/files is copied from it). */
  kindModule: string;
  kubeadm: string;
  kubelet: string;
  kubectl: string;
  crictl: string;
}

/** The pod network of a one-node cluster: pods on host-side veths, ports mapped by portmap. */
export const POD_SUBNET = '10.244.0.0/24';
export function staticCniConfig(): string {
  return `${JSON.stringify(
    {
      cniVersion: '0.4.0',
      name: 'chatcluster-ptp',
      plugins: [
        {
          type: 'ptp',
          ipMasq: false,
          mtu: 1500,
          ipam: { type: 'host-local', ranges: [[{ subnet: POD_SUBNET }]], routes: [{ dst: '0.0.0.0/0' }] },
        },
        { type: 'portmap', capabilities: { portMappings: true } },
      ],
    },
    null,
    2,
  )}\n`;
}

/**
 * Debian's part of the node's root filesystem: debootstrap of NODE_PACKAGES into `rootfs`
 * (root needed), without the downloaded package files.
 */
export async function debootstrapNodeBase(rootfs: string): Promise<void> {
  const debootstrap = await ensureDebianPackage('debootstrap', 'debootstrap');
  let lastStep = '';
  await slowStep(
    `kind node image: debootstrap ${DEBIAN_SUITE} with ${NODE_PACKAGES.length} packages`,
    () =>
      run(
        debootstrap,
        ['--variant=minbase', `--include=${NODE_PACKAGES.join(',')}`, DEBIAN_SUITE, rootfs, DEBIAN_MIRROR],
        {
          onLine: (line) => {
            if (line.startsWith('I: ')) lastStep = line.slice(3);
          },
          remedy: `debootstrap needs root and ${DEBIAN_MIRROR} reachable`,
        },
      ),
    () => lastStep || undefined,
  );
  rmSync(join(rootfs, 'var', 'cache', 'apt', 'archives'), { recursive: true, force: true });
  mkdirSync(join(rootfs, 'var', 'cache', 'apt', 'archives', 'partial'), { recursive: true });
  rmSync(join(rootfs, 'var', 'lib', 'apt', 'lists'), { recursive: true, force: true });
}

/**
 * Turns the Debian base in `rootfs` into a kind node's root filesystem, as kind's base and
 * node image builds do: kind's base files, the kubelet, kubeadm and kubectl, and the
 * settings this cluster needs (KIND.md).
 */
export async function makeNodeRootfs(rootfs: string, files: NodeFiles): Promise<void> {
  copyKindBaseFiles(join(files.kindModule, 'images', 'base', 'files'), rootfs);
  await configureSystemd(rootfs);
  await writeCriBaseSpec(rootfs);
  linkDebianRuntime(rootfs);
  addNodeLayer(rootfs, files);
}

/** kind's images/base/files, with the modes its Dockerfile gives them (the module cache's are read-only). */
function copyKindBaseFiles(from: string, rootfs: string): void {
  cpSync(from, rootfs, { recursive: true });
  for (const path of walk(from)) {
    const target = join(rootfs, relative(from, path));
    const executable = /^(usr\/local\/bin|kind\/bin)\//.test(relative(from, path));
    chmodSync(target, statSync(target).isDirectory() ? 0o755 : executable ? 0o755 : 0o644);
  }
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? [path, ...walk(path)] : [path];
  });
}

/** The systemd units kind's Dockerfile enables, and nothing else at boot. */
async function configureSystemd(rootfs: string): Promise<void> {
  const wantsDirs = [
    'lib/systemd/system/multi-user.target.wants',
    'lib/systemd/system/local-fs.target.wants',
    'lib/systemd/system/basic.target.wants',
  ];
  for (const dir of wantsDirs) rmSync(join(rootfs, dir), { recursive: true, force: true });
  rmSync(join(rootfs, 'lib/systemd/system/sysinit.target.wants/systemd-tmpfiles-setup.service'), { force: true });
  for (const entry of readdirSync(join(rootfs, 'etc/systemd/system'), { withFileTypes: true })) {
    if (entry.isDirectory() && entry.name.endsWith('.wants')) rmSync(join(rootfs, 'etc/systemd/system', entry.name), { recursive: true });
  }
  await chroot(rootfs, ['systemctl', 'enable', 'kubelet.service', 'containerd.service', 'undo-mount-hacks.service']);
  await chroot(rootfs, ['systemctl', 'mask', 'systemd-binfmt.service']);
  mkdirSync(join(rootfs, 'etc/kubernetes/manifests'), { recursive: true });
}

/** containerd's default OCI spec plus kind's product-files hook, as kind's Dockerfile makes it. */
async function writeCriBaseSpec(rootfs: string): Promise<void> {
  const spec = JSON.parse(await chroot(rootfs, ['ctr', 'oci', 'spec'])) as {
    hooks?: { createContainer?: { path: string }[] };
    process?: { rlimits?: unknown };
  };
  spec.hooks = { ...spec.hooks, createContainer: [...(spec.hooks?.createContainer ?? []), { path: '/kind/bin/mount-product-files.sh' }] };
  if (spec.process !== undefined) delete spec.process.rlimits;
  writeFileSync(join(rootfs, 'etc/containerd/cri-base.json'), `${JSON.stringify(spec, null, 2)}\n`);
}

/** kind's units start containerd from /usr/local/bin and look for CNI plugins in /opt/cni/bin. */
function linkDebianRuntime(rootfs: string): void {
  for (const name of ['containerd', 'containerd-shim-runc-v2', 'ctr']) {
    symlinkSync(`/usr/bin/${name}`, join(rootfs, 'usr/local/bin', name));
  }
  mkdirSync(join(rootfs, 'opt/cni'), { recursive: true });
  symlinkSync('/usr/lib/cni', join(rootfs, 'opt/cni/bin'));
}

/** What kind's node image build adds: Kubernetes, its version, and this machine's three settings. */
function addNodeLayer(rootfs: string, files: NodeFiles): void {
  for (const name of ['kubeadm', 'kubelet', 'kubectl'] as const) {
    cpSync(files[name], join(rootfs, 'usr/bin', name));
    chmodSync(join(rootfs, 'usr/bin', name), 0o755);
  }
  cpSync(files.crictl, join(rootfs, 'usr/local/bin/crictl'));
  chmodSync(join(rootfs, 'usr/local/bin/crictl'), 0o755);
  writeFileSync(join(rootfs, 'kind/version'), `v${versions.kubernetes}\n`);
  // A negative oom_score_adj needs CAP_SYS_RESOURCE, which some hosts withhold: without
  // this, pod sandboxes die with "can't get final child's PID from pipe: EOF".
  const config = join(rootfs, 'etc/containerd/config.toml');
  writeFileSync(config, restrictOomScoreAdj(readFileSync(config, 'utf8')));
  mkdirSync(join(rootfs, 'etc/cni/net.d'), { recursive: true });
  writeFileSync(join(rootfs, 'etc/cni/net.d/10-chatcluster-ptp.conflist'), staticCniConfig());
}

/** kind's containerd config with `restrict_oom_score_adj = true`; fails if kind's config changed shape. */
export function restrictOomScoreAdj(config: string): string {
  const edited = config.replace(/^(\s*)restrict_oom_score_adj = false$/m, '$1restrict_oom_score_adj = true');
  if (!/^\s*restrict_oom_score_adj = true$/m.test(edited)) throw new Error('kind\'s containerd config has no restrict_oom_score_adj setting to change');
  return edited;
}

function chroot(rootfs: string, command: string[]): Promise<string> {
  return run('chroot', [rootfs, ...command]);
}
