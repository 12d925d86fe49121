/**
 * The window a node's CPU utilization is averaged over (its `/load`), as metrics-server's
 * rates are. The operator leaves a pod's CPU out until it has been ready this long, so a
 * reading is never mostly the pod's start.
 */
export const CPU_UTILIZATION_WINDOW_MS = 30_000;
