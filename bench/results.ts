import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { PROJECT_ROOT } from '../launcher/binaries';
import { workPointWorkflowId } from '../workflows/shared';
import { renderChart } from './chart';
import { BIG_YEAR, log, type BenchConfig } from './config';
import type { HistoryFigures, LaunchResult } from './cycle-phases';
import type { BaselineResult, ReportsResult } from './load-phases';
import { loadAverage, median } from './measure';
import type { Sample, Sampler } from './sampler';

/** What one run measured, and how it is shown: the table, the log lines, bench/results/<date>.json and .svg. */
export interface Measured {
  cfg: BenchConfig;
  startedAt: Date;
  sampler: Sampler;
  base: BaselineResult;
  seed: LaunchResult;
  big: LaunchResult;
  reports: ReportsResult;
  /** The worker's sample with every work point open, and the last samples of each process. */
  openWorker: ReturnType<Sampler['take']>['worker'];
  final: ReturnType<Sampler['take']>;
  bigHistory: HistoryFigures;
  seedHistory: HistoryFigures;
  sampleNumbers: number[];
  inputBytes: number;
  pageBytes: number;
  dbBytes: number;
  temporalBytes: number;
}

export interface Row {
  metric: string;
  baseline: string;
  duban: string;
  ratio: string;
  target: string;
  met: string;
}

export function table(rows: Row[]): string {
  const cols: (keyof Row)[] = ['metric', 'baseline', 'duban', 'ratio', 'target', 'met'];
  const width = (c: keyof Row) => Math.max(c.length, ...rows.map((r) => [...r[c]].length));
  const line = (r: Row) => cols.map((c) => r[c].padEnd(width(c))).join('  ');
  const header = Object.fromEntries(cols.map((c) => [c, c])) as unknown as Row;
  return [line(header), cols.map((c) => '-'.repeat(width(c))).join('  '), ...rows.map(line)].join('\n');
}

const peakWorkerRss = (sampler: Sampler): number => Math.max(...sampler.samples.map((s) => s.worker?.peakRssMb ?? 0));

/** The comparison table: duban against the bare-Temporal baseline, with the targets of bench/README.md. */
export function resultRows(m: Measured): Row[] {
  const { cfg, sampler, base, seed, big, reports, openWorker, bigHistory, seedHistory, dbBytes, temporalBytes } = m;
  const workerPeak = peakWorkerRss(sampler);
  const cpu = (phase: string) => sampler.cpuPct(phase, 'worker');
  const r2 = (v: number) => (Number.isFinite(v) ? (Math.round(v * 100) / 100).toFixed(2) : '—');
  const halfP99 = reports.paced?.latencyMs.p99 ?? Number.NaN;
  return [
    {
      metric: `start throughput, workflows/s (duban: ${cfg.BENCH_WP}×${cfg.BENCH_UNITS} launch to last assignment notice)`,
      baseline: String(base.startsPerSecond),
      duban: String(big.workPointsPerSecond),
      ratio: r2(big.workPointsPerSecond / base.startsPerSecond),
      target: '≥ 0.80',
      met: big.workPointsPerSecond / base.startsPerSecond >= 0.8 ? 'yes' : 'NO',
    },
    {
      metric: 'signal throughput, /s (duban: POST /r/<token> answered 已收到)',
      baseline: String(base.signalsPerSecond),
      duban: String(reports.perSecond),
      ratio: r2(reports.perSecond / base.signalsPerSecond),
      target: '≥ 0.80',
      met: reports.perSecond / base.signalsPerSecond >= 0.8 ? 'yes' : 'NO',
    },
    {
      metric: `reports sent / answered 已收到 / not sent (time budget ${cfg.BENCH_REPORTS_S} s)`,
      baseline: '',
      duban: `${reports.sent} / ${reports.accepted} / ${reports.notSentTimeBudget}`,
      ratio: '',
      target: '',
      met: '',
    },
    {
      metric: 'processed, /s (baseline: workflow completed; duban: report row in PostgreSQL)',
      baseline: String(base.completedPerSecond),
      duban: String(reports.durablePerSecond),
      ratio: r2(reports.durablePerSecond / base.completedPerSecond),
      target: '(report)',
      met: '',
    },
    {
      metric: 'seed cycle (29 work points) launched, all assignment notices recorded, ms',
      baseline: '',
      duban: String(seed.allNoticesMs),
      ratio: '',
      target: '< 2000',
      met: seed.allNoticesMs < 2000 ? 'yes' : 'NO',
    },
    {
      metric: `report latency p50 / p95 / p99 at concurrency ${cfg.BENCH_CONCURRENCY}, ms`,
      baseline: `${base.signalLatencyMs.p50} / ${base.signalLatencyMs.p95} / ${base.signalLatencyMs.p99}`,
      duban: `${reports.latencyMs.p50} / ${reports.latencyMs.p95} / ${reports.latencyMs.p99}`,
      ratio: r2(reports.latencyMs.p99 / base.signalLatencyMs.p99),
      target: '(report)',
      met: '',
    },
    {
      metric: `report latency p50 / p95 / p99 at half max (${reports.paced?.targetPerSecond ?? '—'}/s), ms`,
      baseline: '',
      duban: reports.paced
        ? `${reports.paced.latencyMs.p50} / ${reports.paced.latencyMs.p95} / ${reports.paced.latencyMs.p99}`
        : '—',
      ratio: '',
      target: 'p99 < 100',
      met: halfP99 < 100 ? 'yes' : 'NO',
    },
    {
      metric: `worker RSS with ${cfg.BENCH_WP + seed.workPoints} open work points, MB (peak during run)`,
      baseline: `${base.workerRssMb} (peak, ${cfg.BENCH_N} trivial)`,
      duban: `${openWorker?.rssMb ?? '—'} (${workerPeak})`,
      ratio: '',
      target: '< 500',
      met: (openWorker?.rssMb ?? Infinity) < 500 ? 'yes' : 'NO',
    },
    {
      metric: 'children started by the cycle, /s (server event times, first command to last start)',
      baseline: '',
      duban: `${bigHistory.childStarts.perSecond} (${bigHistory.childStarts.children} in ${bigHistory.childStarts.seconds} s)`,
      ratio: r2(bigHistory.childStarts.perSecond / base.startsPerSecond),
      target: '',
      met: '',
    },
    {
      metric: 'worker CPU, % of one core (launch / reports / drain)',
      baseline: `${base.workerCpuPctStart} (starts)`,
      duban: `${cpu('big cycle launch')} / ${cpu('reports')} / ${cpu('reports drain')}`,
      ratio: '',
      target: '',
      met: '',
    },
    {
      metric: 'history events per work point (sampled median / max; cycle workflow)',
      baseline: '',
      duban: `${median(bigHistory.workPoints)} / ${Math.max(...bigHistory.workPoints)}; ${bigHistory.cycle}`,
      ratio: '',
      target: '',
      met: '',
    },
    {
      metric: 'history events per report received (sampled work points, median)',
      baseline: '',
      duban: bigHistory.eventsPerReport.length > 0 ? String(median(bigHistory.eventsPerReport)) : '—',
      ratio: '',
      target: '',
      met: '',
    },
    {
      metric: 'history events per seed work point (median / max)',
      baseline: '',
      duban: `${median(seedHistory.workPoints)} / ${Math.max(...seedHistory.workPoints)}`,
      ratio: '',
      target: '',
      met: '',
    },
    {
      metric: 'PostgreSQL database size / Temporal SQLite store, MB',
      baseline: '',
      duban: `${(dbBytes / 1048576).toFixed(1)} / ${(temporalBytes / 1048576).toFixed(1)}`,
      ratio: '',
      target: '',
      met: '',
    },
  ];
}

/** Prints the table, the event types of one sampled history and each phase's CPU. */
export function printResults(m: Measured, printed: string): void {
  const { sampler, bigHistory, sampleNumbers } = m;
  process.stdout.write(`\n${printed}\n\n`);
  log(
    `  history of ${workPointWorkflowId(BIG_YEAR, sampleNumbers[0] ?? 1)}: ` +
      Object.entries(bigHistory.eventTypes)
        .sort(([, a], [, b]) => b - a)
        .map(([k, v]) => `${k.toLowerCase()} ${v}`)
        .join(', '),
  );
  for (const [phase, v] of Object.entries(sampler.summary())) {
    log(
      `  ${phase.padEnd(22)} ${String(v.seconds).padStart(4)} s  CPU % of a core: worker ${v.workerCpuPct}, api ${v.apiCpuPct}, ` +
        `temporal ${v.temporalCpuPct}, postgres ${v.postgresCpuPct}, bench ${v.harnessCpuPct}; load ${v.loadAverage}`,
    );
  }
}

/** Writes bench/results/<date>.json (everything measured, every sample) and .svg (the chart). */
export function writeResults(m: Measured, printed: string): void {
  const { cfg, startedAt, sampler, base, seed, big, reports, openWorker, final, bigHistory, seedHistory } = m;
  const { inputBytes, pageBytes, dbBytes, temporalBytes } = m;
  const workerPeak = peakWorkerRss(sampler);
  const date = startedAt.toISOString().replace(/:/g, '-').replace(/\..*$/, '');
  mkdirSync(cfg.BENCH_OUT, { recursive: true });
  const json = {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    machine: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model,
      memGiB: Math.round(os.totalmem() / 2 ** 30),
      node: process.version,
    },
    loadAverageAtEnd: loadAverage(),
    commit: gitDescribe(),
    config: { ...cfg, BENCH_ADMIN_DATABASE_URL: undefined },
    postgres: 'real PostgreSQL server (fresh database per run), not PGlite',
    temporal: 'temporal server start-dev, SQLite file store (WAL, synchronous=NORMAL)',
    baseline: base,
    seedCycle: seed,
    bigCycle: { ...big, allInputsBytes: inputBytes, inputPageBytes: pageBytes },
    reports,
    worker: {
      openWorkPoints: cfg.BENCH_WP + seed.workPoints,
      atOpen: openWorker,
      atEnd: final.worker,
      peakRssMb: workerPeak,
    },
    api: { atEnd: final.api },
    temporalServer: { atEnd: final.temporal },
    history: { big: bigHistory, seed: seedHistory },
    storage: { postgresBytes: dbBytes, temporalStoreBytes: temporalBytes },
    phases: sampler.phases,
    phaseCpu: sampler.summary(),
    samples: sampler.samples,
    table: printed,
  };
  const jsonFile = path.join(cfg.BENCH_OUT, `${date}.json`);
  const svgFile = path.join(cfg.BENCH_OUT, `${date}.svg`);
  writeFileSync(jsonFile, `${JSON.stringify(json, null, 2)}\n`);
  const t0 = sampler.samples[0]?.t ?? 0;
  let prev: Sample | undefined;
  const timeline = sampler.samples.flatMap((s) => {
    const p = prev;
    prev = s;
    if (!s.worker) return [];
    const cpuPct =
      p?.worker && s.t > p.t ? ((s.worker.cpuSeconds - p.worker.cpuSeconds) / ((s.t - p.t) / 1000)) * 100 : 0;
    return [{ t: s.t, rssMb: s.worker.rssMb, cpuPct }];
  });
  writeFileSync(
    svgFile,
    renderChart({
      title: `duban bench ${startedAt.toISOString().slice(0, 16)} · ${cfg.BENCH_WP}×${cfg.BENCH_UNITS}, N=${cfg.BENCH_N}, concurrency ${cfg.BENCH_CONCURRENCY}`,
      bars: [
        {
          label: 'starts/s vs work points launched/s',
          baseline: base.startsPerSecond,
          duban: big.workPointsPerSecond,
          unit: '/s',
        },
        {
          label: 'signals/s vs reports accepted/s',
          baseline: base.signalsPerSecond,
          duban: reports.perSecond,
          unit: '/s',
        },
        {
          label: 'completed/s vs reports durable/s',
          baseline: base.completedPerSecond,
          duban: reports.durablePerSecond,
          unit: '/s',
        },
      ],
      latency: [
        { label: `baseline signal (c=${cfg.BENCH_CONCURRENCY})`, ...base.signalLatencyMs },
        { label: `report (c=${cfg.BENCH_CONCURRENCY})`, ...reports.latencyMs },
        ...(reports.paced
          ? [{ label: `report at ${reports.paced.targetPerSecond}/s`, ...reports.paced.latencyMs }]
          : []),
      ],
      timeline,
      phases: sampler.phases.map((p) => ({ ...p, from: Math.max(p.from, t0) })),
    }),
  );
  log(`wrote ${path.relative(PROJECT_ROOT, jsonFile)} and ${path.relative(PROJECT_ROOT, svgFile)}`);
}

/** Which code was measured: the commit, with "-dirty" when the tree had uncommitted changes. */
function gitDescribe(): string | undefined {
  try {
    return execFileSync('git', ['describe', '--always', '--dirty'], { cwd: PROJECT_ROOT, encoding: 'utf8' }).trim();
  } catch {
    return undefined;
  }
}
