/** CAP_SYS_RESOURCE's bit in a capability set (linux/capability.h). */
const CAP_SYS_RESOURCE = 24n;

/**
 * Whether the capability bounding set in `procStatus` (the text of /proc/self/status)
 * lacks CAP_SYS_RESOURCE. Privileged containers fail to start there unless runc is
 * wrapped to drop it (runc-drop-sys-resource.sh); where it is present the wrapper must
 * not be used, so containers get exactly what Docker gives them elsewhere.
 */
export function lacksSysResource(procStatus: string): boolean {
  const match = /^CapBnd:\s*([0-9a-f]+)$/im.exec(procStatus);
  if (match?.[1] === undefined) throw new Error('no CapBnd line in /proc/self/status');
  return ((BigInt(`0x${match[1]}`) >> CAP_SYS_RESOURCE) & 1n) === 0n;
}
