import { CPU_UTILIZATION_WINDOW_MS } from '../../common/cpu-window.js';

/** One reading of the process's CPU time (user + system) at a moment of the monotonic clock. */
export interface CpuSample {
  atMs: number;
  cpuMicros: number;
}

/**
 * CPU used between two samples as a percentage of `requestMillicores`, the way the
 * HorizontalPodAutoscaler reads a pod's CPU (usage ÷ request); undefined when no time passed.
 */
export function cpuUtilizationPercent(from: CpuSample, to: CpuSample, requestMillicores: number): number | undefined {
  const wallMs = to.atMs - from.atMs;
  if (wallMs <= 0 || requestMillicores <= 0) return undefined;
  const usedMillicores = (to.cpuMicros - from.cpuMicros) / wallMs; // µs of CPU per ms of wall time = millicores
  return Math.round((usedMillicores / requestMillicores) * 100);
}

export interface CpuMeterOptions {
  /** The container's CPU request in millicores (the Downward API's `requests.cpu` at divisor 1m). */
  requestMillicores: number;
  /** Utilization is averaged over this window, as metrics-server's is (it reads cAdvisor's 10–30 s rates). */
  windowMs?: number;
  sampleEveryMs?: number;
  read?: () => CpuSample;
}

function processSample(): CpuSample {
  const { user, system } = process.cpuUsage();
  return { atMs: performance.now(), cpuMicros: user + system };
}

/**
 * The node's own CPU signal for the operator's autoscaler, served in `/load`: the
 * operator cannot count on a metrics-server, and the node knows its CPU time exactly.
 */
export class CpuMeter {
  private readonly samples: CpuSample[];
  private readonly windowMs: number;
  private readonly read: () => CpuSample;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: CpuMeterOptions) {
    this.windowMs = options.windowMs ?? CPU_UTILIZATION_WINDOW_MS;
    this.read = options.read ?? processSample;
    this.samples = [this.read()];
  }

  start(): void {
    this.timer = setInterval(() => {
      this.sample();
    }, this.options.sampleEveryMs ?? 5_000);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Takes a sample and forgets those older than the window (keeping one at or before its start). */
  sample(): void {
    const now = this.read();
    this.samples.push(now);
    while (this.samples.length > 2 && (this.samples[1]?.atMs ?? now.atMs) <= now.atMs - this.windowMs) this.samples.shift();
  }

  /** Percent of the CPU request used over the last window (up to now). */
  utilization(): number | undefined {
    const oldest = this.samples[0];
    if (oldest === undefined) return undefined;
    return cpuUtilizationPercent(oldest, this.read(), this.options.requestMillicores);
  }
}
