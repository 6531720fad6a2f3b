import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { PROJECT_ROOT } from '../launcher/binaries';
import { workPointWorkflowId } from '../workflows/shared';
import { renderChart } from './chart';
import { BIG_YEAR, log, type BenchConfig } from './config';
import type { HistoryFigures, LaunchResult } from './cycle-phases';
import type { BaselineLaunchResult, BaselineReportsResult, ReportsResult, StartsResult } from './load-phases';
import { loadAverage, median } from './measure';
import type { Sample, Sampler } from './sampler';

/** What one run measured, and how it is shown: the tables, the log lines, bench/results/<date>.json and .svg. */
export interface Measured {
  cfg: BenchConfig;
  startedAt: Date;
  build: BuildInfo;
  sampler: Sampler;
  bareStarts: StartsResult;
  baseLaunch: BaselineLaunchResult;
  baseReports: BaselineReportsResult;
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
  largestInputBytes: number;
  dbBytes: number;
  temporalBytes: number;
}

/** How the worker got its workflow code: `npm run build` run or not, and whether it left a prebuilt bundle. */
export interface BuildInfo {
  ran: boolean;
  seconds?: number;
  bundle: string;
  bundlePresent: boolean;
  bundleBytes?: number;
  /** Worker process start until it polled its task queue, and its RSS then: what bundling at start costs. */
  workerReadyMs?: number;
  workerRssAtReadyMb?: number;
}

/** One line of the summary: duban's figure beside the baseline doing the same Temporal work, and the target. */
export interface SummaryRow {
  metric: string;
  duban: number | null;
  baseline: number | null;
  ratio: number | null;
  target: string;
  met: boolean | null;
}

/** A summary row with what each side measured, for the printed table. */
export interface Comparison extends SummaryRow {
  compared: string;
}

const round2 = (v: number): number | null => (Number.isFinite(v) ? Math.round(v * 100) / 100 : null);
const ratioOf = (duban: number, baseline: number): number | null =>
  baseline > 0 && Number.isFinite(duban) ? round2(duban / baseline) : null;
const atLeast = (ratio: number | null, min: number): boolean | null => (ratio === null ? null : ratio >= min);

/** The issue's targets, each against its like-for-like baseline (reported, never asserted). */
export function comparisons(m: Measured): Comparison[] {
  const { cfg, bareStarts, baseLaunch, baseReports, seed, big, reports, openWorker } = m;
  const W = cfg.BENCH_WP;
  const U = cfg.BENCH_UNITS;
  const sc = cfg.startConcurrency;
  const c = cfg.BENCH_CONCURRENCY;
  const openWorkPoints = W + seed.workPoints;
  const startedRatio = ratioOf(big.startedPerSecond, bareStarts.perSecond);
  const launchRatio = ratioOf(big.workPointsPerSecond, baseLaunch.workPointsPerSecond);
  const reportsRatio = ratioOf(reports.perSecond, baseReports.update.answeredPerSecond);
  const halfP99 = reports.paced?.latencyMs.p99;
  const rss = openWorker?.rssMb;
  return [
    {
      metric: 'work points durably started, /s',
      compared:
        `duban: POST /api/cycles → the last of ${W} wp-${BIG_YEAR}-* WorkflowExecutionStarted (visibility); ` +
        `baseline: ${W} client starts of a trivial workflow (${sc} in flight) → the last started`,
      duban: big.startedPerSecond,
      baseline: bareStarts.perSecond,
      ratio: startedRatio,
      target: '≥ 0.8× baseline',
      met: atLeast(startedRatio, 0.8),
    },
    {
      metric: 'launch to last assignment notice, work points/s',
      compared:
        `duban: POST /api/cycles → all ${big.notices} assignment notices in the outbox (${(big.allNoticesMs / 1000).toFixed(1)} s); ` +
        `baseline: ${W} client starts (${sc} in flight), each first task one local activity writing ${U} such rows → ` +
        `the last row (${(baseLaunch.allRowsMs / 1000).toFixed(1)} s)`,
      duban: big.workPointsPerSecond,
      baseline: baseLaunch.workPointsPerSecond,
      ratio: launchRatio,
      target: '≥ 0.8× baseline',
      met: atLeast(launchRatio, 0.8),
    },
    {
      metric: 'reports durably processed, /s',
      compared:
        `duban: POST /r/<token> → Update submitReport → answered 已收到 once stored (${reports.accepted} reports, ${c} in flight); ` +
        `baseline: executeUpdate to a workflow whose handler stores the row with a local activity, then answers ` +
        `(${baseReports.update.n}, ${c} in flight)`,
      duban: reports.perSecond,
      baseline: baseReports.update.answeredPerSecond,
      ratio: reportsRatio,
      target: '≥ 0.8× baseline',
      met: atLeast(reportsRatio, 0.8),
    },
    {
      metric: 'reference: reports stored, /s, vs bare signals stored by a workflow',
      compared:
        `duban: as above, until every report is in PostgreSQL; baseline: signals (${baseReports.signal.n}, ${c} in ` +
        `flight; the server answers at ${baseReports.signal.answeredPerSecond}/s) stored by the workflow's local activity`,
      duban: reports.durablePerSecond,
      baseline: baseReports.signal.storedPerSecond,
      ratio: ratioOf(reports.durablePerSecond, baseReports.signal.storedPerSecond),
      target: '(reference)',
      met: null,
    },
    {
      metric: 'report p99 at half the maximum rate, ms',
      compared: reports.paced
        ? `duban: ${reports.paced.n} corrections POST /r/<token>, open loop at ${reports.paced.targetPerSecond}/s ` +
          `(half of ${reports.perSecond}/s), latency from the scheduled instant`
        : 'duban: paced phase skipped (BENCH_PACED_N=0)',
      duban: halfP99 ?? null,
      baseline: null,
      ratio: null,
      target: '< 100 ms',
      met: halfP99 === undefined ? null : halfP99 < 100,
    },
    {
      metric: `worker RSS with ${openWorkPoints} open work points, MB`,
      compared:
        `duban: the worker after the launch (default settings${cfg.BENCH_WORKER_MAX_CACHED_WORKFLOWS ? ` but WORKER_MAX_CACHED_WORKFLOWS=${cfg.BENCH_WORKER_MAX_CACHED_WORKFLOWS}` : ''}); ` +
        `baseline: its worker with ${W} open launch baselines cached` +
        (openWorkPoints < 1000 ? '; the target is for 1,000 open work points: not judged at this size' : ''),
      duban: rss ?? null,
      baseline: baseLaunch.workerRssMb ?? null,
      ratio: null,
      target: '< 500 MB at 1,000',
      met: rss === undefined || openWorkPoints < 1000 ? null : rss < 500,
    },
    {
      metric: 'seed cycle launched → all notices recorded, ms',
      compared: `duban: POST /api/cycles for the 2023 seed plan (${seed.workPoints} work points) → all ${seed.notices} assignment notices in the outbox`,
      duban: seed.allNoticesMs,
      baseline: null,
      ratio: null,
      target: '< 1000 ms',
      met: seed.allNoticesMs < 1000,
    },
  ];
}

export const summaryOf = (rows: Comparison[]): SummaryRow[] =>
  rows.map(({ metric, duban, baseline, ratio, target, met }) => ({ metric, duban, baseline, ratio, target, met }));

const cell = (v: number | null): string => (v === null ? '—' : String(v));

/** The comparison table: one line per target, and under it what each side measured. */
export function summaryTable(rows: Comparison[]): string {
  const cells = rows.map((r) => [
    r.metric,
    cell(r.duban),
    cell(r.baseline),
    r.ratio === null ? '—' : r.ratio.toFixed(2),
    r.target,
    r.met === null ? '—' : r.met ? 'yes' : 'NO',
  ]);
  const header = ['metric', 'duban', 'baseline', 'ratio', 'target', 'met'];
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => [...(c[i] ?? '')].length)));
  const line = (c: string[]) =>
    c
      .map((v, i) => (i > 0 && i < 4 ? v.padStart(widths[i] ?? 0) : v.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [
    line(header),
    widths.map((w) => '-'.repeat(w)).join('  '),
    ...cells.flatMap((c, i) => [line(c), `    ${rows[i]?.compared ?? ''}`]),
  ].join('\n');
}

export interface Row {
  metric: string;
  baseline: string;
  duban: string;
}

/** Details beside the summary: latencies, CPU, histories, storage. */
export function detailRows(m: Measured): Row[] {
  const { cfg, sampler, bareStarts, baseLaunch, baseReports, big, reports, bigHistory, seedHistory } = m;
  const cpu = (phase: string, part: 'worker' | 'baselineWorker' = 'worker') => sampler.cpuPct(phase, part);
  const p = (l: { p50: number; p95: number; p99: number }) => `${l.p50} / ${l.p95} / ${l.p99}`;
  return [
    {
      metric: 'durably started, s from the first request (duban: from POST /api/cycles)',
      baseline: `${bareStarts.seconds} (trivial); ${baseLaunch.startedSeconds} (launch baseline)`,
      duban: String(big.startedSeconds),
    },
    {
      metric: `latency p50 / p95 / p99 at concurrency ${cfg.BENCH_CONCURRENCY}, ms (duban: POST /r; baseline: Update)`,
      baseline: p(baseReports.update.latencyMs),
      duban: p(reports.latencyMs),
    },
    {
      metric: 'bare signals: answered by the server /s, latency p50 / p95 / p99 ms',
      baseline: `${baseReports.signal.answeredPerSecond}; ${p(baseReports.signal.latencyMs)}`,
      duban: '',
    },
    {
      metric: `reports sent / answered 已收到 / not sent (time budget ${cfg.BENCH_REPORTS_S} s) / errors`,
      baseline: '',
      duban: `${reports.sent} / ${reports.accepted} / ${reports.notSentTimeBudget} / ${reports.errors}`,
    },
    {
      metric: 'report latency p50 / p95 / p99 at half max, ms',
      baseline: '',
      duban: reports.paced ? `${p(reports.paced.latencyMs)} at ${reports.paced.achievedPerSecond}/s` : '—',
    },
    {
      metric: 'children started by the cycle, /s (server event times, first command to last start)',
      baseline: '',
      duban:
        bigHistory.childStarts.perSecond === null
          ? '— (not started as children)'
          : `${bigHistory.childStarts.perSecond} (${bigHistory.childStarts.children} in ${bigHistory.childStarts.seconds} s)`,
    },
    {
      metric: 'worker CPU, % of one core: starts / launch / reports (Updates) / signals',
      baseline: `${cpu('baseline starts', 'baselineWorker')} / ${cpu('baseline launch', 'baselineWorker')} / ${cpu('baseline updates', 'baselineWorker')} / ${cpu('baseline signals', 'baselineWorker')}`,
      duban: `— / ${cpu('big cycle launch')} / ${cpu('reports')} / —`,
    },
    {
      metric: 'history events per work point (sampled median / max; cycle workflow)',
      baseline: '',
      duban: `${median(bigHistory.workPoints)} / ${Math.max(...bigHistory.workPoints)}; ${bigHistory.cycle}`,
    },
    {
      metric: 'history events per report received (sampled work points, median)',
      baseline: '',
      duban: bigHistory.eventsPerReport.length > 0 ? String(median(bigHistory.eventsPerReport)) : '—',
    },
    {
      metric: 'history events per seed work point (median / max)',
      baseline: '',
      duban: `${median(seedHistory.workPoints)} / ${Math.max(...seedHistory.workPoints)}`,
    },
    {
      metric: 'PostgreSQL database size / Temporal SQLite store, MB',
      baseline: '',
      duban: `${(m.dbBytes / 1048576).toFixed(1)} / ${(m.temporalBytes / 1048576).toFixed(1)}`,
    },
    {
      metric: 'workflow code',
      baseline: m.build.bundlePresent ? 'prebuilt (a process of its own)' : 'bundled by its worker at start',
      duban: m.build.bundlePresent
        ? `prebuilt ${m.build.bundle} (${((m.build.bundleBytes ?? 0) / 1048576).toFixed(2)} MiB)`
        : `bundled by the worker at start (no ${m.build.bundle}${m.build.ran ? ' after npm run build' : ''})`,
    },
    {
      metric: 'duban worker: start to polling, ms; RSS then, MB',
      baseline: '',
      duban: `${m.build.workerReadyMs ?? '—'}; ${m.build.workerRssAtReadyMb ?? '—'}`,
    },
  ];
}

export function detailTable(rows: Row[]): string {
  const cols: (keyof Row)[] = ['metric', 'duban', 'baseline'];
  const width = (c: keyof Row) => Math.max(c.length, ...rows.map((r) => [...r[c]].length));
  const line = (r: Row) =>
    cols
      .map((c) => r[c].padEnd(width(c)))
      .join('  ')
      .trimEnd();
  const header = { metric: 'detail', duban: 'duban', baseline: 'baseline' };
  return [line(header), cols.map((c) => '-'.repeat(width(c))).join('  '), ...rows.map(line)].join('\n');
}

/** Prints both tables, the event types of one sampled history and each phase's CPU. */
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
      `  ${phase.padEnd(24)} ${String(v.seconds).padStart(4)} s  CPU % of a core: worker ${v.workerCpuPct}, api ${v.apiCpuPct}, ` +
        `temporal ${v.temporalCpuPct}, postgres ${v.postgresCpuPct}, baseline worker ${v.baselineWorkerCpuPct}, ` +
        `bench ${v.harnessCpuPct}; load ${v.loadAverage}`,
    );
  }
}

const peakWorkerRss = (sampler: Sampler): number => Math.max(...sampler.samples.map((s) => s.worker?.peakRssMb ?? 0));

/** Writes bench/results/<date>.json (the summary, everything measured, every sample) and .svg (the chart). */
export function writeResults(m: Measured, summary: SummaryRow[], printed: string): string {
  const { cfg, startedAt, sampler, bareStarts, baseLaunch, baseReports, seed, big, reports, openWorker, final } = m;
  const { bigHistory, seedHistory, inputBytes, largestInputBytes, dbBytes, temporalBytes } = m;
  const date = startedAt.toISOString().replace(/:/g, '-').replace(/\..*$/, '');
  mkdirSync(cfg.BENCH_OUT, { recursive: true });
  const loads = sampler.samples.map((s) => s.load).filter(Number.isFinite);
  const json = {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    secondsToResults: Math.round((Date.now() - startedAt.getTime()) / 1000),
    quick: cfg.quick,
    summary,
    machine: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model,
      memGiB: Math.round(os.totalmem() / 2 ** 30),
      node: process.version,
    },
    loadAverage: {
      atEnd: loadAverage(),
      meanOfSamples:
        loads.length > 0 ? Math.round((loads.reduce((a, b) => a + b, 0) / loads.length) * 100) / 100 : null,
      max: loads.length > 0 ? Math.max(...loads) : null,
    },
    commit: gitDescribe(),
    config: { ...cfg, BENCH_ADMIN_DATABASE_URL: undefined },
    build: m.build,
    postgres: 'real PostgreSQL server (fresh database per run), not PGlite',
    temporal: 'temporal server start-dev, SQLite file store (WAL, synchronous=NORMAL)',
    baseline: {
      starts: bareStarts,
      launch: baseLaunch,
      updates: baseReports.update,
      signals: baseReports.signal,
    },
    seedCycle: seed,
    bigCycle: { ...big, allInputsBytes: inputBytes, largestInputBytes },
    reports,
    worker: {
      openWorkPoints: cfg.BENCH_WP + seed.workPoints,
      atOpen: openWorker,
      atEnd: final.worker,
      peakRssMb: peakWorkerRss(sampler),
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
      title: `duban bench ${startedAt.toISOString().slice(0, 16)} · ${cfg.BENCH_WP}×${cfg.BENCH_UNITS}, concurrency ${cfg.BENCH_CONCURRENCY}${cfg.quick ? ' · --quick' : ''}`,
      bars: [
        {
          label: 'started /s: bare starts vs work points',
          baseline: bareStarts.perSecond,
          duban: big.startedPerSecond,
          unit: '/s',
        },
        {
          label: 'launch to last notice, work points/s',
          baseline: baseLaunch.workPointsPerSecond,
          duban: big.workPointsPerSecond,
          unit: '/s',
        },
        {
          label: 'processed /s: bare Updates vs reports',
          baseline: baseReports.update.answeredPerSecond,
          duban: reports.perSecond,
          unit: '/s',
        },
        {
          label: 'stored /s: bare signals vs reports',
          baseline: baseReports.signal.storedPerSecond,
          duban: reports.durablePerSecond,
          unit: '/s',
        },
      ],
      latency: [
        { label: `bare Update (c=${cfg.BENCH_CONCURRENCY})`, ...baseReports.update.latencyMs },
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
  return jsonFile;
}

/** Which code was measured: the commit, with "-dirty" when the tree had uncommitted changes. */
function gitDescribe(): string | undefined {
  try {
    return execFileSync('git', ['describe', '--always', '--dirty'], { cwd: PROJECT_ROOT, encoding: 'utf8' }).trim();
  } catch {
    return undefined;
  }
}
