import { loadAverage, postgresCpuCounter, procSample, type ProcSample } from './measure';
import { Stack } from './stack';
/** Samples the CPU and memory of the stack's processes through the run, phase by phase. */

export interface Sample {
  t: number;
  phase: string;
  worker?: ProcSample;
  api?: ProcSample;
  temporal?: ProcSample;
  baselineWorker?: ProcSample;
  /** CPU seconds of the database's backends, of this process, and the machine's load average. */
  postgresCpu: number;
  harnessCpu: number;
  load: number;
}

export class Sampler {
  readonly samples: Sample[] = [];
  readonly phases: { name: string; from: number; to: number }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private phase = 'start';
  private readonly postgresCpu: () => number;
  constructor(
    private readonly stack: Stack,
    private readonly extra: () => number | undefined,
  ) {
    this.postgresCpu = postgresCpuCounter(stack.databaseName);
  }
  start(): void {
    this.timer = setInterval(() => this.take(), 1000);
    this.timer.unref();
  }
  take(): Sample {
    const s: Sample = {
      t: Date.now(),
      phase: this.phase,
      worker: procSample(this.stack.pid('worker')),
      api: procSample(this.stack.pid('api')),
      temporal: procSample(this.stack.pid('temporal')),
      baselineWorker: procSample(this.extra()),
      postgresCpu: this.postgresCpu(),
      harnessCpu: (process.cpuUsage().user + process.cpuUsage().system) / 1e6,
      load: loadAverage(),
    };
    this.samples.push(s);
    return s;
  }
  enter(name: string): void {
    const now = Date.now();
    const last = this.phases[this.phases.length - 1];
    if (last) last.to = now;
    this.phases.push({ name, from: now, to: now });
    this.phase = name;
    this.take();
  }
  stop(): void {
    clearInterval(this.timer);
    const last = this.phases[this.phases.length - 1];
    if (last) last.to = Date.now();
  }
  /** CPU use of a process over a phase, % of one core. */
  cpuPct(name: string, part: 'worker' | 'api' | 'temporal' | 'baselineWorker' | 'postgres' | 'harness'): number {
    const cpu = (s: Sample): number | undefined =>
      part === 'postgres' ? s.postgresCpu : part === 'harness' ? s.harnessCpu : s[part]?.cpuSeconds;
    const inPhase = this.samples.filter((s) => s.phase === name && cpu(s) !== undefined);
    const first = inPhase[0];
    const last = inPhase[inPhase.length - 1];
    if (!first || !last || last.t === first.t) return 0;
    return Math.round((((cpu(last) ?? 0) - (cpu(first) ?? 0)) / ((last.t - first.t) / 1000)) * 1000) / 10;
  }

  /** Per phase: CPU of each part (% of one core) and the mean load average. */
  summary(): Record<string, Record<string, number>> {
    const parts = ['worker', 'api', 'temporal', 'postgres', 'baselineWorker', 'harness'] as const;
    return Object.fromEntries(
      [...new Set(this.phases.map((p) => p.name))].map((name) => {
        const loads = this.samples.filter((s) => s.phase === name).map((s) => s.load);
        return [
          name,
          {
            ...Object.fromEntries(parts.map((part) => [`${part}CpuPct`, this.cpuPct(name, part)])),
            seconds: Math.round(
              this.phases.filter((p) => p.name === name).reduce((sum, p) => sum + (p.to - p.from), 0) / 1000,
            ),
            loadAverage: Math.round((loads.reduce((a, b) => a + b, 0) / Math.max(1, loads.length)) * 100) / 100,
          },
        ];
      }),
    );
  }
}
