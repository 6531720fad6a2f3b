import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { closeSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { prepareCycleData } from '../services/cycle-preparation';
import { parseLinkKeys, signLink } from '../common/links';
import { latestPlanIdForYear } from '../db/plans-repo';
import { DEMO_UNIT_DIRECTORY } from '../domain/demo-directory';
import { PROJECT_ROOT } from '../launcher/binaries';
import { killAllChildrenSync, spawnChild, stopChild, type ManagedChild } from '../launcher/children';
import { cycleWorkflowId, START_BATCH, workPointWorkflowId } from '../workflows/shared';
import { BASELINE_TASK_QUEUE, pokeSignal, trivial } from './baseline-workflow';
import { renderChart } from './chart';
import {
  FORM_HEADERS,
  formBody,
  httpClient,
  latencyTimeline,
  loadAverage,
  median,
  percentiles,
  postgresCpuCounter,
  procSample,
  runPaced,
  runPool,
  scriptArguments,
  until,
  type HttpClient,
  type Percentiles,
  type ProcSample,
} from './measure';
import { DEFAULT_ADMIN_DATABASE_URL, Stack } from './stack';
import { instantCycleOptions, prng, shuffle, syntheticPlan, syntheticUnits } from './synthetic';

/**
 * `npm run bench`: one run, one isolated stack (real PostgreSQL, file-persisted Temporal dev server, the
 * production worker and API as child processes), measuring the raw Temporal baseline and duban's two hot
 * paths — launching a cycle and receiving reports — side by side. Writes bench/results/<date>.json and .svg.
 */

const flag = z
  .enum(['true', 'false', '1', '0'])
  .default('false')
  .transform((v) => v === 'true' || v === '1');

const BenchConfigSchema = z.object({
  BENCH_WP: z.coerce.number().int().min(1).max(5000).default(1000),
  BENCH_UNITS: z.coerce.number().int().min(1).max(200).default(20),
  BENCH_N: z.coerce.number().int().min(10).max(100_000).default(2000),
  BENCH_CONCURRENCY: z.coerce.number().int().min(1).max(512).default(16),
  /** Reports in the closed-loop phase; default W × U (every unit of every work point reports once). */
  BENCH_REPORTS: z.coerce.number().int().min(1).optional(),
  /** Corrections sent at half the measured maximum rate, for the latency target. */
  BENCH_PACED_N: z.coerce.number().int().min(0).default(2000),
  /** Time budgets: the closed-loop phase stops sending after BENCH_REPORTS_S, the paced one after BENCH_PACED_S. */
  BENCH_REPORTS_S: z.coerce.number().int().positive().default(300),
  BENCH_PACED_S: z.coerce.number().int().positive().default(60),
  BENCH_ADMIN_DATABASE_URL: z.string().default(DEFAULT_ADMIN_DATABASE_URL),
  BENCH_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('warn'),
  /** Passed to the duban worker as WORKER_MAX_CACHED_WORKFLOWS (unset: the worker's default, 1000). */
  BENCH_WORKER_MAX_CACHED_WORKFLOWS: z.coerce.number().int().positive().optional(),
  /** Extra node flags of the duban worker, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to see where its CPU goes. */
  BENCH_WORKER_NODE_ARGS: z
    .string()
    .default('')
    .transform((v) => v.split(/\s+/).filter(Boolean)),
  BENCH_KEEP: flag,
  BENCH_OUT: z.string().default(path.join(PROJECT_ROOT, 'bench', 'results')),
  BENCH_SEED: z.coerce.number().int().default(7),
  /** Upper bound on the synthetic cycle's launch (all assignment notices recorded), seconds. */
  BENCH_LAUNCH_TIMEOUT_S: z.coerce.number().int().positive().default(900),
});
type BenchConfig = z.infer<typeof BenchConfigSchema>;

const SEED_YEAR = 2023;
const BIG_YEAR = 2024;
const DAY = 86_400_000;
/** Long enough that nothing is due, reminded or escalated while the benchmark runs. */
const farOptions = (now: number) =>
  instantCycleOptions({
    opensAt: now,
    dueAt: now + 30 * DAY,
    reminderBeforeS: 3 * 86_400,
    leadAfterS: 3 * 86_400,
    officeAfterS: 5 * 86_400,
  });

const log = (msg: string): void => {
  process.stdout.write(`[bench] ${msg}\n`);
};
const rate = (n: number, ms: number): number => (ms > 0 ? Math.round((n / (ms / 1000)) * 10) / 10 : 0);

interface Sample {
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

class Sampler {
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

async function apiJson(
  http: HttpClient,
  token: string,
  method: string,
  urlPath: string,
  body: unknown,
): Promise<{ status: number; json: unknown }> {
  const res = await http.request(method, urlPath, {
    body: JSON.stringify(body),
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    timeoutMs: 120_000,
  });
  let json: unknown;
  try {
    json = JSON.parse(res.body) as unknown;
  } catch {
    json = res.body;
  }
  if (res.status >= 300) throw new Error(`${method} ${urlPath} answered ${res.status}: ${res.body.slice(0, 500)}`);
  return { status: res.status, json };
}

async function countAssignments(stack: Stack, year: number): Promise<number> {
  const { rows } = await stack.pool.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM outbox WHERE kind = 'assignment' AND cycle_year = $1",
    [year],
  );
  return rows[0]?.n ?? 0;
}

/** How many assignment rows a cycle writes: one per responsible unit and contact (a unit without contacts: one). */
async function expectedAssignments(stack: Stack, year: number, planId: number, options: unknown): Promise<number> {
  const prepared = await prepareCycleData(stack.pool, year, planId, options);
  if (prepared.kind !== 'ok') throw new Error(`cycle ${year} cannot be prepared: ${prepared.kind}`);
  const { rows } = await stack.pool.query<{ id: string; n: number }>(
    'SELECT id, greatest(1, jsonb_array_length(contacts))::int AS n FROM units',
  );
  const contacts = new Map(rows.map((r) => [r.id, r.n]));
  return prepared.workPoints.reduce(
    (sum, wp) =>
      sum + wp.responsibleUnits.reduce((s, u) => s + (contacts.get(u.id) ?? 1), 0) * wp.schedule.periods.length,
    0,
  );
}

interface LaunchResult {
  workPoints: number;
  notices: number;
  acceptedMs: number;
  allNoticesMs: number;
  workPointsPerSecond: number;
  noticesPerSecond: number;
  progress: { ms: number; notices: number }[];
}

async function launchCycle(
  stack: Stack,
  http: HttpClient,
  token: string,
  year: number,
  planId: number,
  timeoutMs: number,
): Promise<LaunchResult> {
  const options = farOptions(Date.now());
  const expected = await expectedAssignments(stack, year, planId, options);
  const t0 = performance.now();
  const res = await apiJson(http, token, 'POST', '/api/cycles', { year, planId, options });
  const acceptedMs = performance.now() - t0;
  const workPoints = ((res.json as { workPoints?: unknown[] }).workPoints ?? []).length;
  const progress: { ms: number; notices: number }[] = [];
  let lastLogged = 0;
  await until(
    `${expected} assignment notices of cycle ${year}`,
    async () => {
      const n = await countAssignments(stack, year);
      const ms = performance.now() - t0;
      progress.push({ ms: Math.round(ms), notices: n });
      if (ms - lastLogged > 10_000) {
        lastLogged = ms;
        log(`  cycle ${year}: ${n} / ${expected} assignment notices after ${(ms / 1000).toFixed(0)} s`);
      }
      if (stack.failure) throw stack.failure;
      return n >= expected ? true : undefined;
    },
    timeoutMs,
    20,
  );
  const allNoticesMs = performance.now() - t0;
  return {
    workPoints,
    notices: expected,
    acceptedMs: Math.round(acceptedMs),
    allNoticesMs: Math.round(allNoticesMs),
    workPointsPerSecond: rate(workPoints, allNoticesMs),
    noticesPerSecond: rate(expected, allNoticesMs),
    progress: progress.filter((_, i) => i % 10 === 0),
  };
}

interface BaselineResult {
  n: number;
  concurrency: number;
  startsPerSecond: number;
  signalsPerSecond: number;
  completedPerSecond: number;
  startLatencyMs: Percentiles;
  signalLatencyMs: Percentiles;
  workerRssMb: number;
  workerCpuPctStart: number;
}

async function baseline(
  stack: Stack,
  client: Client,
  cfg: BenchConfig,
  sampler: Sampler,
  onPid: (pid?: number) => void,
): Promise<BaselineResult> {
  const logFile = path.join(stack.dataDir, 'logs', 'baseline-worker.log');
  const fd = openSync(logFile, 'a');
  let worker: ManagedChild;
  try {
    worker = await spawnChild('baseline-worker', process.execPath, ['--import', 'tsx', 'bench/baseline-worker.ts'], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, TEMPORAL_ADDRESS: stack.temporalAddress },
      output: { fd },
    });
  } finally {
    closeSync(fd);
  }
  onPid(worker.pid);
  try {
    const run = randomUUID().slice(0, 8);
    // Warm-up: the worker bundles its workflow and connects; the first handful also warm the server.
    const warm = Array.from({ length: 20 }, (_, i) => `warm-${run}-${i}`);
    await runPool(warm, 10, async (id) => {
      const h = await client.workflow.start(trivial, { workflowId: id, taskQueue: BASELINE_TASK_QUEUE });
      await h.signal(pokeSignal, 1);
      await h.result();
    });

    const ids = Array.from({ length: cfg.BENCH_N }, (_, i) => `baseline-${run}-${i}`);
    sampler.enter('baseline starts');
    const startLat: number[] = [];
    const t0 = performance.now();
    await runPool(ids, cfg.BENCH_CONCURRENCY, async (id) => {
      const s = performance.now();
      await client.workflow.start(trivial, { workflowId: id, taskQueue: BASELINE_TASK_QUEUE });
      startLat.push(performance.now() - s);
    });
    const startMs = performance.now() - t0;
    sampler.take();
    const workerCpuPctStart = sampler.cpuPct('baseline starts', 'baselineWorker');

    sampler.enter('baseline signals');
    const signalLat: number[] = [];
    const t1 = performance.now();
    await runPool(ids, cfg.BENCH_CONCURRENCY, async (id) => {
      const s = performance.now();
      await client.workflow.getHandle(id).signal(pokeSignal, 1);
      signalLat.push(performance.now() - s);
    });
    const signalMs = performance.now() - t1;
    await until(
      `${cfg.BENCH_N} baseline workflows completed`,
      async () => {
        const { count } = await client.workflow.count(
          `TaskQueue = '${BASELINE_TASK_QUEUE}' AND ExecutionStatus = 'Completed' AND WorkflowId STARTS_WITH 'baseline-${run}-'`,
        );
        return count >= cfg.BENCH_N ? true : undefined;
      },
      600_000,
      100,
    );
    const completedMs = performance.now() - t1;
    const rss = procSample(worker.pid)?.peakRssMb ?? 0;
    return {
      n: cfg.BENCH_N,
      concurrency: cfg.BENCH_CONCURRENCY,
      startsPerSecond: rate(cfg.BENCH_N, startMs),
      signalsPerSecond: rate(cfg.BENCH_N, signalMs),
      completedPerSecond: rate(cfg.BENCH_N, completedMs),
      startLatencyMs: percentiles(startLat),
      signalLatencyMs: percentiles(signalLat),
      workerRssMb: rss,
      workerCpuPctStart,
    };
  } finally {
    await stopChild(worker, 'SIGTERM', 10_000, log);
    onPid(undefined);
  }
}

interface ReportsResult {
  sent: number;
  /** Reports of the plan not sent because BENCH_REPORTS_S ran out. */
  notSentTimeBudget: number;
  accepted: number;
  errors: number;
  errorSamples: string[];
  concurrency: number;
  seconds: number;
  perSecond: number;
  latencyMs: Percentiles;
  latencyTimeline: ReturnType<typeof latencyTimeline>;
  durableSeconds: number;
  durablePerSecond: number;
  paced?: {
    n: number;
    targetPerSecond: number;
    achievedPerSecond: number;
    latencyMs: Percentiles;
    latencyTimeline: ReturnType<typeof latencyTimeline>;
    errors: number;
  };
}

async function submitReports(
  stack: Stack,
  http: HttpClient,
  cfg: BenchConfig,
  sampler: Sampler,
  unitIds: string[],
): Promise<ReportsResult> {
  const keys = parseLinkKeys(stack.linkSecret);
  const exp = Math.floor(Date.now() / 1000) + 400 * 86_400;
  const pairs: { wp: number; unit: string }[] = [];
  for (let wp = 1; wp <= cfg.BENCH_WP; wp++) for (const unit of unitIds) pairs.push({ wp, unit });
  shuffle(pairs, prng(cfg.BENCH_SEED));
  const total = Math.min(cfg.BENCH_REPORTS ?? pairs.length, pairs.length);
  const items = pairs.slice(0, total).map((p) => ({
    ...p,
    path: `/r/${signLink(keys, { y: BIG_YEAR, wp: p.wp, u: p.unit, p: 'report', per: 'P1', exp })}`,
  }));
  let accepted = 0;
  let errors = 0;
  const errorSamples: string[] = [];
  const post = async (item: { path: string }, text: string): Promise<boolean> => {
    try {
      const res = await http.request('POST', item.path, {
        body: formBody({ submissionId: randomUUID(), text }),
        headers: FORM_HEADERS,
      });
      if (res.status === 200 && res.body.includes('已收到')) return true;
      if (errorSamples.length < 5) errorSamples.push(`${res.status} ${res.body.replace(/\s+/g, ' ').slice(0, 200)}`);
    } catch (err) {
      if (errorSamples.length < 5) errorSamples.push(err instanceof Error ? err.message : String(err));
    }
    errors += 1;
    return false;
  };

  sampler.enter('reports');
  const latencies: number[] = [];
  const timeline: [number, number][] = [];
  const t0 = performance.now();
  const stopAt = t0 + cfg.BENCH_REPORTS_S * 1000;
  let lastLogged = t0;
  let skipped = 0;
  await runPool(items, cfg.BENCH_CONCURRENCY, async (item) => {
    const s = performance.now();
    if (s > stopAt) {
      skipped += 1;
      return;
    }
    if (await post(item, '本期工作按计划推进，已完成阶段任务。')) accepted += 1;
    const now = performance.now();
    latencies.push(now - s);
    timeline.push([s - t0, now - s]);
    if (now - lastLogged > 15_000) {
      lastLogged = now;
      log(`  ${latencies.length} / ${items.length} reports sent (${rate(latencies.length, now - t0)}/s)`);
    }
  });
  const sentMs = performance.now() - t0;
  const perSecond = rate(accepted, sentMs);
  if (skipped > 0) log(`  time budget BENCH_REPORTS_S=${cfg.BENCH_REPORTS_S} used up: ${skipped} reports not sent`);

  sampler.enter('reports drain');
  await until(
    `${accepted} reports in PostgreSQL`,
    async () => {
      const { rows } = await stack.pool.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM reports WHERE cycle_year = $1',
        [BIG_YEAR],
      );
      if (stack.failure) throw stack.failure;
      return (rows[0]?.n ?? 0) >= accepted ? true : undefined;
    },
    900_000,
    100,
  );
  const durableMs = performance.now() - t0;

  const result: ReportsResult = {
    sent: items.length - skipped,
    notSentTimeBudget: skipped,
    accepted,
    errors,
    errorSamples,
    concurrency: cfg.BENCH_CONCURRENCY,
    seconds: Math.round(sentMs / 100) / 10,
    perSecond,
    latencyMs: percentiles(latencies),
    latencyTimeline: latencyTimeline(timeline, 10_000),
    durableSeconds: Math.round(durableMs / 100) / 10,
    durablePerSecond: rate(accepted, durableMs),
  };

  if (cfg.BENCH_PACED_N > 0 && perSecond > 0) {
    // Corrections (a second report of the same unit and period, before the due date) at half the maximum rate.
    const target = Math.max(1, perSecond / 2);
    const pacedItems = items.slice(
      0,
      Math.min(cfg.BENCH_PACED_N, result.accepted, Math.ceil(target * cfg.BENCH_PACED_S)),
    );
    sampler.enter('reports at half rate');
    let pacedErrors = 0;
    const paced = await runPaced(pacedItems, target, 256, async (item) => {
      if (!(await post(item, '更正：补充本期工作进展。'))) pacedErrors += 1;
    });
    result.paced = {
      n: pacedItems.length,
      targetPerSecond: Math.round(target * 10) / 10,
      achievedPerSecond: rate(pacedItems.length, paced.seconds * 1000),
      latencyMs: percentiles(paced.latencies),
      latencyTimeline: latencyTimeline(paced.timeline),
      errors: pacedErrors,
    };
  }
  return result;
}

interface HistoryFigures {
  workPoints: number[];
  cycle: number;
  /** Per sampled work point: history events beyond the first one's launch, per report it received. */
  eventsPerReport: number[];
  /** Event types of the first sampled work point's history. */
  eventTypes: Record<string, number>;
  /** From the cycle's first child start command to its last child's start confirmation, as the server recorded them. */
  childStarts: { children: number; seconds: number; perSecond: number };
}

async function historyFigures(stack: Stack, client: Client, year: number, numbers: number[]): Promise<HistoryFigures> {
  const lengths = new Map<number, number>();
  await runPool(numbers, 8, async (n) => {
    const d = await client.workflow.getHandle(workPointWorkflowId(year, n)).describe();
    lengths.set(n, d.historyLength);
  });
  const { rows } = await stack.pool.query<{ work_point: number; n: number }>(
    'SELECT work_point, count(*)::int AS n FROM reports WHERE cycle_year = $1 AND work_point = ANY($2) GROUP BY work_point',
    [year, numbers],
  );
  const reports = new Map(rows.map((r) => [r.work_point, r.n]));
  const first = numbers[0] ?? 1;
  const history = await client.workflow.getHandle(workPointWorkflowId(year, first)).fetchHistory();
  const eventTypes: Record<string, number> = {};
  let launchEvents = 0;
  for (const e of history.events ?? []) {
    const name = (temporal.api.enums.v1.EventType[e.eventType ?? 0] ?? String(e.eventType)).replace('EVENT_TYPE_', '');
    eventTypes[name] = (eventTypes[name] ?? 0) + 1;
    // Everything before the first report signal is the launch (assignment notices, status projection).
    if (launchEvents === 0 && name === 'WORKFLOW_EXECUTION_SIGNALED') launchEvents = Number(e.eventId ?? 1) - 1;
  }
  const eventsPerReport = numbers.flatMap((n) => {
    const count = reports.get(n) ?? 0;
    const length = lengths.get(n) ?? 0;
    return count > 0 && launchEvents > 0 ? [Math.round(((length - launchEvents) / count) * 10) / 10] : [];
  });
  const cycleHistory = await client.workflow.getHandle(cycleWorkflowId(year)).fetchHistory();
  const ms = (t: { seconds?: unknown; nanos?: number | null } | null | undefined) =>
    t ? Number(t.seconds ?? 0) * 1000 + (t.nanos ?? 0) / 1e6 : Number.NaN;
  const Type = temporal.api.enums.v1.EventType;
  const initiated = (cycleHistory.events ?? []).filter(
    (e) => e.eventType === Type.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED,
  );
  const started = (cycleHistory.events ?? []).filter(
    (e) => e.eventType === Type.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED,
  );
  const seconds = (ms(started.at(-1)?.eventTime) - ms(initiated[0]?.eventTime)) / 1000;
  return {
    workPoints: [...lengths.values()].sort((a, b) => a - b),
    cycle: cycleHistory.events?.length ?? 0,
    eventsPerReport,
    eventTypes,
    childStarts: {
      children: started.length,
      seconds: Math.round(seconds * 10) / 10,
      perSecond: Math.round((started.length / seconds) * 10) / 10,
    },
  };
}

interface Row {
  metric: string;
  baseline: string;
  duban: string;
  ratio: string;
  target: string;
  met: string;
}

function table(rows: Row[]): string {
  const cols: (keyof Row)[] = ['metric', 'baseline', 'duban', 'ratio', 'target', 'met'];
  const width = (c: keyof Row) => Math.max(c.length, ...rows.map((r) => [...r[c]].length));
  const line = (r: Row) => cols.map((c) => r[c].padEnd(width(c))).join('  ');
  const header = Object.fromEntries(cols.map((c) => [c, c])) as unknown as Row;
  return [line(header), cols.map((c) => '-'.repeat(width(c))).join('  '), ...rows.map(line)].join('\n');
}

async function main(cfg: BenchConfig): Promise<void> {
  const startedAt = new Date();
  log(
    `W=${cfg.BENCH_WP} work points × U=${cfg.BENCH_UNITS} units, baseline N=${cfg.BENCH_N}, concurrency ${cfg.BENCH_CONCURRENCY}; ` +
      `${os.cpus().length} CPUs, load average ${loadAverage()}`,
  );
  const stack = await Stack.start({
    name: 'bench',
    adminDatabaseUrl: cfg.BENCH_ADMIN_DATABASE_URL,
    logLevel: cfg.BENCH_LOG_LEVEL,
    log,
    workerEnv: {
      ...(cfg.BENCH_WORKER_MAX_CACHED_WORKFLOWS
        ? { WORKER_MAX_CACHED_WORKFLOWS: String(cfg.BENCH_WORKER_MAX_CACHED_WORKFLOWS) }
        : {}),
    },
    workerNodeArgs: cfg.BENCH_WORKER_NODE_ARGS,
    onCreated: (created) => {
      stackToStop = created;
    },
  });
  let ok = false;
  const http = httpClient(stack.apiUrl, Math.max(cfg.BENCH_CONCURRENCY, 8));
  let baselinePid: number | undefined;
  const sampler = new Sampler(stack, () => baselinePid);
  sampler.start();
  try {
    const client = await stack.client();
    const token = await stack.adminToken('bench');

    log(`baseline: ${cfg.BENCH_N} trivial workflows started, then signalled, at concurrency ${cfg.BENCH_CONCURRENCY}`);
    const base = await baseline(stack, client, cfg, sampler, (pid) => {
      baselinePid = pid;
    });
    log(
      `  ${base.startsPerSecond} starts/s, ${base.signalsPerSecond} signals/s, ${base.completedPerSecond} completed/s`,
    );

    // The seed plan (29 work points) with the demo directory, as npm start seeds it.
    sampler.enter('seed cycle');
    const seedPlanId = await latestPlanIdForYear(stack.pool, SEED_YEAR);
    if (seedPlanId === undefined) throw new Error('the seed plan was not imported');
    log('seed cycle: 29 work points, demo directory');
    const seed = await launchCycle(stack, http, token, SEED_YEAR, seedPlanId, 120_000);
    log(`  202 after ${seed.acceptedMs} ms, all ${seed.notices} assignment notices after ${seed.allNoticesMs} ms`);

    // The synthetic plan: W work points, each assigned to all U synthetic units.
    sampler.enter('synthetic import');
    const units = syntheticUnits(cfg.BENCH_UNITS);
    await apiJson(http, token, 'PUT', '/api/units', {
      units: [...DEMO_UNIT_DIRECTORY.units, ...units],
      groupSelections: DEMO_UNIT_DIRECTORY.groupSelections,
    });
    const plan = syntheticPlan(
      BIG_YEAR,
      cfg.BENCH_WP,
      units.map((u) => u.name),
      [units[0]?.name ?? ''],
    );
    const imported = await apiJson(http, token, 'POST', '/api/plans', { plan });
    const bigPlanId = (imported.json as { id: number }).id;
    const prepared = await prepareCycleData(stack.pool, BIG_YEAR, bigPlanId, farOptions(Date.now()));
    // All inputs in one payload (what prepareCycle returned before paging) and one page (what workPointInputs returns).
    const inputBytes =
      prepared.kind === 'ok' ? Buffer.byteLength(JSON.stringify({ workPoints: prepared.workPoints })) : 0;
    const pageBytes =
      prepared.kind === 'ok' ? Buffer.byteLength(JSON.stringify(prepared.workPoints.slice(0, START_BATCH))) : 0;

    sampler.enter('big cycle launch');
    log(
      `cycle ${BIG_YEAR}: ${cfg.BENCH_WP} × ${cfg.BENCH_UNITS} (all inputs ${(inputBytes / 1024).toFixed(0)} KiB; ` +
        `the largest payload, a page of ${START_BATCH}, ${(pageBytes / 1024).toFixed(0)} KiB)`,
    );
    const big = await launchCycle(stack, http, token, BIG_YEAR, bigPlanId, cfg.BENCH_LAUNCH_TIMEOUT_S * 1000);
    log(
      `  202 after ${big.acceptedMs} ms, all ${big.notices} assignment notices after ${(big.allNoticesMs / 1000).toFixed(1)} s`,
    );

    // Let the status projections finish, then read the worker with every work point open.
    sampler.enter('settle');
    await sleep(5_000);
    const settled = sampler.take();
    const openWorker = settled.worker;

    log(
      `reports: ${cfg.BENCH_REPORTS ?? cfg.BENCH_WP * cfg.BENCH_UNITS} POST /r/<token> at concurrency ${cfg.BENCH_CONCURRENCY}` +
        ` (time budget ${cfg.BENCH_REPORTS_S} s)`,
    );
    const reports = await submitReports(
      stack,
      http,
      cfg,
      sampler,
      units.map((u) => u.id),
    );
    log(
      `  ${reports.perSecond} reports/s accepted (p50 ${reports.latencyMs.p50} ms, p99 ${reports.latencyMs.p99} ms), ` +
        `${reports.durablePerSecond}/s durable in PostgreSQL`,
    );
    if (reports.paced) {
      log(
        `  at ${reports.paced.targetPerSecond}/s: p50 ${reports.paced.latencyMs.p50} ms, p99 ${reports.paced.latencyMs.p99} ms`,
      );
    }

    sampler.enter('inspect');
    const step = Math.max(1, Math.floor(cfg.BENCH_WP / 8));
    const sampleNumbers = [...new Set([1, ...Array.from({ length: 8 }, (_, i) => 1 + i * step), cfg.BENCH_WP])];
    const bigHistory = await historyFigures(stack, client, BIG_YEAR, sampleNumbers);
    const seedHistory = await historyFigures(
      stack,
      client,
      SEED_YEAR,
      Array.from({ length: seed.workPoints }, (_, i) => i + 1),
    );
    const dbBytes = await stack.databaseBytes();
    const temporalBytes = stack.temporalStoreBytes();
    const final = sampler.take();
    sampler.stop();

    const workerPeak = Math.max(...sampler.samples.map((s) => s.worker?.peakRssMb ?? 0));
    const cpu = (phase: string) => sampler.cpuPct(phase, 'worker');
    const r2 = (v: number) => (Number.isFinite(v) ? (Math.round(v * 100) / 100).toFixed(2) : '—');
    const halfP99 = reports.paced?.latencyMs.p99 ?? Number.NaN;
    const rows: Row[] = [
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
    const printed = table(rows);
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
    if (reports.errors > 0)
      log(`${reports.errors} report submissions failed, e.g. ${reports.errorSamples.join(' | ')}`);
    ok = true;
  } finally {
    sampler.stop();
    http.close();
    await stack.stop({ keep: cfg.BENCH_KEEP || !ok });
  }
}

const USAGE = `npm run bench — duban 与裸 Temporal 的基准测试 / duban measured against the bare Temporal client

用法 / usage: [BENCH_…=…] npm run bench            (npm run bench -- --help: this text)

One run on a stack of its own: a fresh database duban_bench_<stamp> on the PostgreSQL server of
BENCH_ADMIN_DATABASE_URL, a Temporal dev server with its data in .data/bench-<stamp>, and the production worker and
API. It measures the baseline, the seed cycle, a synthetic cycle and reports (bench/README.md), prints a table and
writes bench/results/<date>.json and .svg, then drops the database and removes the directory. Ctrl-C (SIGINT or
SIGTERM) stops the stack and removes them too; a second Ctrl-C kills everything at once.

变量 / variables [default]:
  BENCH_WP, BENCH_UNITS               [1000, 20]  size of the synthetic plan (work points × units)
  BENCH_N                             [2000]      baseline workflows and signals
  BENCH_CONCURRENCY                   [16]        requests in flight (baseline and reports)
  BENCH_REPORTS                       [W × U]     reports in the closed-loop phase
  BENCH_REPORTS_S, BENCH_PACED_S      [300, 60]   time budgets of the closed-loop and the paced phase, seconds
  BENCH_PACED_N                       [2000]      corrections at half the maximum rate (0: skip)
  BENCH_LAUNCH_TIMEOUT_S              [900]       upper bound on the synthetic cycle's launch, seconds
  BENCH_WORKER_MAX_CACHED_WORKFLOWS   [—]         passed to the duban worker as WORKER_MAX_CACHED_WORKFLOWS
  BENCH_WORKER_NODE_ARGS              [—]         extra node flags of the worker, e.g. --cpu-prof --cpu-prof-dir=/tmp/prof
  BENCH_LOG_LEVEL                     [warn]      LOG_LEVEL of worker and API (their logs: .data/bench-*/logs/)
  BENCH_KEEP                          [false]     keep the database and .data/bench-* (always kept on failure)
  BENCH_ADMIN_DATABASE_URL            [${DEFAULT_ADMIN_DATABASE_URL}]
                                                  where the benchmark's database is created and dropped
  BENCH_OUT                           [bench/results]  where the results go
  BENCH_SEED                          [7]         seed of the order in which reports are sent
`;

/** The stack as soon as it exists, so that Ctrl-C can remove it even while it starts. */
let stackToStop: Stack | undefined;
let interrupted = false;

/**
 * Ctrl-C or SIGTERM: stop the stack and drop what it created (unless BENCH_KEEP), then exit 130. A second
 * signal kills every child at once and leaves the database and the directory behind.
 */
function stopOnSignal(keep: boolean): void {
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) {
      log(`${signal} again: killing everything now; the database and data directory stay`);
      killAllChildrenSync();
      process.exit(130);
    }
    interrupted = true;
    const stack = stackToStop;
    log(
      `${signal}: stopping the stack${keep ? ' (BENCH_KEEP: keeping its database and data directory)' : ' and removing its database and data directory'}` +
        ' — Ctrl-C again to kill at once',
    );
    (stack ? stack.stop({ keep }) : Promise.resolve())
      .catch((err: unknown) => {
        log(`could not remove everything: ${err instanceof Error ? err.message : String(err)}`);
      })
      .finally(() => {
        if (stack && !keep)
          log(`removed database ${stack.databaseName} and ${path.relative(PROJECT_ROOT, stack.dataDir)}`);
        killAllChildrenSync();
        process.exit(130);
      });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

scriptArguments('bench', USAGE, 'BENCH_*');
const parsed = BenchConfigSchema.safeParse(
  Object.fromEntries(Object.entries(process.env).filter(([k, v]) => k.startsWith('BENCH_') && v !== '')),
);
if (!parsed.success) {
  const issue = parsed.error.issues[0];
  process.stderr.write(
    `bench: 配置无效 / invalid configuration: ${issue?.path.join('.') ?? 'BENCH_*'} ${issue?.message ?? ''} (npm run bench -- --help)\n`,
  );
  process.exit(2);
}
stopOnSignal(parsed.data.BENCH_KEEP);
main(parsed.data).catch((err: unknown) => {
  // After a signal the stack fails under the harness's feet; the signal handler reports and exits.
  if (interrupted) return;
  process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  killAllChildrenSync();
  process.exit(1);
});

/** Which code was measured: the commit, with "-dirty" when the tree had uncommitted changes. */
function gitDescribe(): string | undefined {
  try {
    return execFileSync('git', ['describe', '--always', '--dirty'], { cwd: PROJECT_ROOT, encoding: 'utf8' }).trim();
  } catch {
    return undefined;
  }
}
