import { redisCertificateReloadLoop, redisTlsConfigLines, sentinelCertificateRecord, type RedisTls } from './redis-tls.js';

/**
 * What the containers of a Sentinel-managed Redis pod run before redis-server: POSIX sh
 * and redis-cli only (the official image and the local stand-in both have them, plus
 * coreutils' `timeout` and sed). Each pod finds its place from the Sentinels at every
 * start, so a pod rescheduled with a new IP, or restarted after a failover, rejoins as a
 * replica of whichever pod is primary now.
 *
 * Both read POD_NAME, PEER_DOMAIN (`<service>.<namespace>.svc`), SENTINELS (the peers'
 * host names, space-separated), MASTER_NAME and FIRST_POD from the environment. With
 * `tls` (redis-tls.ts) they speak and configure TLS only; without it, they are what
 * they always were (so an operator upgrade restarts no plaintext Redis).
 */

/** Where the generated configuration files live: the data volume (the root filesystem is read-only, and both servers rewrite their file). */
export const REDIS_CONFIG_DIR = '/data';
/** Seconds without an answer before the Sentinels agree that the primary is down. */
export const DOWN_AFTER_MS = 5000;
const FAILOVER_TIMEOUT_MS = 20_000;

/** redis-cli, with the TLS flags when the Redis speaks TLS. */
function redisCli(tls: RedisTls | undefined): string {
  return tls === undefined ? 'redis-cli' : `redis-cli ${tls.cliFlags}`;
}

/** The lines of the start script that write redis.conf's port (and, with TLS, the TLS settings). */
function portLines(port: number, tls: RedisTls | undefined): string {
  return (tls === undefined ? [`port ${port}`] : redisTlsConfigLines(tls, port)).map((line) => `  echo "${line}"`).join('\n');
}

/**
 * The Redis container: ask each Sentinel who the primary is; follow it, or be it when it
 * names this pod. When no Sentinel knows one (a new set, or every pod restarted at
 * once), the first pod starts as primary and the others follow it. A pod the Sentinels
 * still name as it starts is the primary that just went away: it gives them the time to
 * promote a replica (down-after plus a margin) before it takes the role back, so the
 * writes a replica took meanwhile are not thrown away by its return.
 */
export function redisStartScript(redisPort: number, sentinelPort: number, tls?: RedisTls): string {
  const patience = Math.ceil(DOWN_AFTER_MS / 1000) + 10;
  const cli = redisCli(tls);
  return `set -eu
self="$POD_NAME.$PEER_DOMAIN"
ask_sentinels() {
  for sentinel in $SENTINELS; do
    answer="$(timeout 3 ${cli} -h "$sentinel" -p ${sentinelPort} --raw SENTINEL get-master-addr-by-name "$MASTER_NAME" 2>/dev/null | sed -n 1p)" || answer=""
    case "$answer" in
      *' '*|'') ;;
      *.*) echo "$answer"; return ;;
    esac
  done
}
primary="$(ask_sentinels)"
waited=0
while [ "$primary" = "$self" ] && [ "$waited" -lt ${patience} ]; do
  sleep 2
  waited=$((waited + 2))
  primary="$(ask_sentinels)"
done
[ -n "$primary" ] || primary="$FIRST_POD.$PEER_DOMAIN"
{
${portLines(redisPort, tls)}
  echo "dir ${REDIS_CONFIG_DIR}"
  echo "appendonly yes"
  echo "protected-mode no"
  echo "replica-announce-ip $self"
  if [ "$primary" != "$self" ]; then echo "replicaof $primary ${redisPort}"; fi
} > ${REDIS_CONFIG_DIR}/redis.conf
echo "starting as $([ "$primary" = "$self" ] && echo primary || echo "replica of $primary")"
${tls === undefined ? '' : redisCertificateReloadLoop(tls, redisPort)}exec redis-server ${REDIS_CONFIG_DIR}/redis.conf
`;
}

/**
 * The Sentinel container: monitor whatever the Redis beside it follows (or itself, when
 * it is primary), so the two containers of a pod never disagree; announce this pod's
 * host name, not its IP, which changes when the pod is rescheduled.
 */
export function sentinelStartScript(redisPort: number, sentinelPort: number, quorum: number, tls?: RedisTls): string {
  const cli = redisCli(tls);
  return `set -eu
self="$POD_NAME.$PEER_DOMAIN"
while :; do
  role="$(${cli} -p ${redisPort} --raw ROLE 2>/dev/null)" || role=""
  case "$(printf '%s\\n' "$role" | sed -n 1p)" in
    master) primary="$self"; break ;;
    slave) primary="$(printf '%s\\n' "$role" | sed -n 2p)"; break ;;
  esac
  sleep 1
done
cat > ${REDIS_CONFIG_DIR}/sentinel.conf <<EOF
${tls === undefined ? `port ${sentinelPort}` : redisTlsConfigLines(tls, sentinelPort).join('\n')}
dir ${REDIS_CONFIG_DIR}
sentinel resolve-hostnames yes
sentinel announce-hostnames yes
sentinel announce-ip $self
sentinel monitor $MASTER_NAME $primary ${redisPort} ${quorum}
sentinel down-after-milliseconds $MASTER_NAME ${DOWN_AFTER_MS}
sentinel failover-timeout $MASTER_NAME ${FAILOVER_TIMEOUT_MS}
sentinel parallel-syncs $MASTER_NAME 1
EOF
echo "monitoring $primary"
${tls === undefined ? '' : sentinelCertificateRecord(tls, REDIS_CONFIG_DIR).atStart}exec redis-server ${REDIS_CONFIG_DIR}/sentinel.conf --sentinel
`;
}

/**
 * The Redis container's preStop: a primary that is being stopped (a drain, a rolling
 * update, a deleted pod) first asks another pod's Sentinel to fail over, and waits (up to
 * 10 s) until it is a replica, so clients move in about a second instead of after
 * down-after. Its own pod's Sentinel is stopping too. A crash skips this; the Sentinels
 * then notice within down-after.
 */
export function redisHandOverScript(redisPort: number, sentinelPort: number, tls?: RedisTls): string {
  const cli = redisCli(tls);
  return `self="$POD_NAME.$PEER_DOMAIN"
role() { ${cli} -p ${redisPort} --raw ROLE 2>/dev/null | sed -n 1p; }
[ "$(role)" = master ] || exit 0
for sentinel in $SENTINELS; do
  [ "$sentinel" = "$self" ] && continue
  if timeout 3 ${cli} -h "$sentinel" -p ${sentinelPort} SENTINEL FAILOVER "$MASTER_NAME" 2>/dev/null | grep -q OK; then break; fi
done
waited=0
while [ "$(role)" = master ] && [ "$waited" -lt 20 ]; do
  sleep 0.5
  waited=$((waited + 1))
done
exit 0
`;
}
