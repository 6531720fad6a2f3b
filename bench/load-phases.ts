import { randomUUID } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseLinkKeys, signLink } from '../common/links';
import { PROJECT_ROOT } from '../launcher/binaries';
import { describeExit, spawnChild, stopChild, type ManagedChild } from '../launcher/children';
import { countBaselineNotices, countBaselineReports, countReports } from '../db/bench-queries';
import type { BaselineReport, BaselineUnit } from './baseline-activities';
import {
  BASELINE_TASK_QUEUE,
  baselineReportSignal,
  baselineReportUpdate,
  launchBaseline,
  pokeSignal,
  trivial,
} from './baseline-workflow';
import {
  FORM_HEADERS,
  formBody,
  latencyTimeline,
  percentiles,
  runPaced,
  runPool,
  until,
  type HttpClient,
  type Percentiles,
} from './measure';
import { Stack } from './stack';
import { startTimes } from './cycle-phases';
import { prng, shuffle } from './synthetic';
import { BASELINE_WARM_YEAR, BASELINE_YEAR, BIG_YEAR, DAY, log, rate, type BenchConfig } from './config';
import { Sampler } from './sampler';

/**
 * The load phases: the bare-Temporal baselines (their own worker process and workflows, bench/baseline-*.ts) and
 * duban's reports posted to its reply links. Each baseline does the Temporal work of the duban path it stands beside.
 */

// ─── the baseline worker ─────────────────────────────────────────────────────────────────────────────

/**
 * Starts the baseline worker with a cache for every workflow it will hold (W open at once, plus the warm-up) — on a
 * prebuilt bundle when duban's worker has one — and warms it and the server up: a few trivial workflows and a few
 * launch baselines, each run to completion.
 */
export async function startBaselineWorker(stack: Stack, cfg: BenchConfig, prebuilt: boolean): Promise<ManagedChild> {
  const logFile = path.join(stack.dataDir, 'logs', 'baseline-worker.log');
  const bundle = path.join(stack.dataDir, 'baseline-bundle.js');
  if (prebuilt) {
    // Like duban's worker when `npm run build` left it a bundle: built beforehand, in a process of its own.
    const fd = openSync(logFile, 'a');
    let builder: ManagedChild;
    try {
      builder = await spawnChild(
        'baseline-bundle',
        process.execPath,
        ['--import', 'tsx', 'bench/baseline-worker.ts', '--bundle', bundle],
        { cwd: PROJECT_ROOT, env: process.env, output: { fd } },
      );
    } finally {
      closeSync(fd);
    }
    const exit = await builder.exited;
    if (exit.code !== 0)
      throw new Error(`bundling the baseline workflows failed (${describeExit(exit)}); see ${logFile}`);
  }
  const fd = openSync(logFile, 'a');
  let worker: ManagedChild;
  try {
    worker = await spawnChild('baseline-worker', process.execPath, ['--import', 'tsx', 'bench/baseline-worker.ts'], {
      cwd: PROJECT_ROOT,
      env: {
        ...process.env,
        TEMPORAL_ADDRESS: stack.temporalAddress,
        DATABASE_URL: stack.databaseUrl,
        LINK_SECRET: stack.linkSecret,
        PUBLIC_BASE_URL: stack.apiUrl,
        WORKER_MAX_CACHED_WORKFLOWS: String(cfg.BENCH_WP + 100),
        ...(prebuilt ? { BASELINE_BUNDLE: bundle } : {}),
      },
      output: { fd },
    });
  } finally {
    closeSync(fd);
  }
  try {
    const client = await stack.client();
    const run = randomUUID().slice(0, 8);
    await runPool(
      Array.from({ length: 20 }, (_, i) => i),
      10,
      async (i) => {
        const h = await client.workflow.start(trivial, {
          workflowId: `warm-${run}-${i}`,
          taskQueue: BASELINE_TASK_QUEUE,
        });
        await h.signal(pokeSignal, 1);
        await h.result();
      },
    );
    const units = benchUnits(cfg.BENCH_UNITS);
    const warm = await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        client.workflow.start(launchBaseline, {
          workflowId: `warm-launch-${run}-${i + 1}`,
          taskQueue: BASELINE_TASK_QUEUE,
          args: [
            {
              year: BASELINE_WARM_YEAR,
              workPoint: i + 1,
              title: `合成要点${i + 1}`,
              units,
              dueAt: Date.now() + 30 * DAY,
            },
          ],
        }),
      ),
    );
    await until(
      'the warm-up launch baselines to write their rows',
      async () => ((await countBaselineNotices(stack.pool, BASELINE_WARM_YEAR)) >= 5 * units.length ? true : undefined),
      120_000,
    );
    await Promise.all(warm.map((h) => h.signal(pokeSignal, 1)));
    await Promise.all(warm.map((h) => h.result()));
  } catch (err) {
    await stopChild(worker, 'SIGTERM', 10_000, log);
    throw err;
  }
  return worker;
}

/** The synthetic units as the baseline names them (bench/synthetic.ts syntheticUnits: same ids and names). */
function benchUnits(count: number): BaselineUnit[] {
  return Array.from({ length: count }, (_, i) => {
    const n = String(i + 1).padStart(3, '0');
    return { id: `bench-unit-${n}`, name: `基准测试单位${n}` };
  });
}

// ─── bare starts ─────────────────────────────────────────────────────────────────────────────────────

export interface StartsResult {
  n: number;
  concurrency: number;
  /** From the first start request to the last WorkflowExecutionStarted the server recorded. */
  seconds: number;
  perSecond: number;
  startLatencyMs: Percentiles;
}

/** W client starts of `trivial` (completes its first task, then waits), at the start concurrency; then closed. */
export async function bareStarts(stack: Stack, cfg: BenchConfig, sampler: Sampler): Promise<StartsResult> {
  const client = await stack.client();
  const run = randomUUID().slice(0, 8);
  const prefix = `bare-start-${run}-`;
  const ids = Array.from({ length: cfg.BENCH_WP }, (_, i) => `${prefix}${i + 1}`);
  sampler.enter('baseline starts');
  const latencies: number[] = [];
  const t0 = Date.now();
  await runPool(ids, cfg.startConcurrency, async (id) => {
    const s = performance.now();
    await client.workflow.start(trivial, { workflowId: id, taskQueue: BASELINE_TASK_QUEUE });
    latencies.push(performance.now() - s);
  });
  const times = await startTimes(client, `WorkflowId STARTS_WITH '${prefix}'`, ids.length);
  const seconds = (Math.max(...times) - t0) / 1000;
  sampler.enter('baseline starts closing');
  await runPool(ids, cfg.BENCH_CONCURRENCY, async (id) => {
    await client.workflow.getHandle(id).signal(pokeSignal, 1);
  });
  // Closed before the next phase, so that its first tasks do not queue behind these.
  await until(
    `${ids.length} trivial workflows closed`,
    async () => {
      const query = `WorkflowId STARTS_WITH '${prefix}' AND ExecutionStatus = 'Completed'`;
      return (await client.workflow.count(query)).count >= ids.length ? true : undefined;
    },
    300_000,
    100,
  );
  return {
    n: ids.length,
    concurrency: cfg.startConcurrency,
    seconds: Math.round(seconds * 100) / 100,
    perSecond: rate(ids.length, seconds * 1000),
    startLatencyMs: percentiles(latencies),
  };
}

// ─── the launch baseline ─────────────────────────────────────────────────────────────────────────────

export interface BaselineLaunchResult {
  workPoints: number;
  rows: number;
  concurrency: number;
  /** From the first start request to the last assignment row in PostgreSQL. */
  allRowsMs: number;
  workPointsPerSecond: number;
  /** From the first start request to the last WorkflowExecutionStarted. */
  startedSeconds: number;
  startedPerSecond: number;
  /** The baseline worker with every launch baseline open and cached. */
  workerRssMb: number | undefined;
}

/** W client starts of `launchBaseline` (first task: one local activity writing U assignment rows), to the last row. */
export async function baselineLaunch(stack: Stack, cfg: BenchConfig, sampler: Sampler): Promise<BaselineLaunchResult> {
  const client = await stack.client();
  const units = benchUnits(cfg.BENCH_UNITS);
  const expected = cfg.BENCH_WP * units.length;
  const dueAt = Date.now() + 30 * DAY;
  const numbers = Array.from({ length: cfg.BENCH_WP }, (_, i) => i + 1);
  const prefix = `bare-wp-${BASELINE_YEAR}-`;
  sampler.enter('baseline launch');
  const t0 = Date.now();
  const p0 = performance.now();
  await runPool(numbers, cfg.startConcurrency, async (wp) => {
    await client.workflow.start(launchBaseline, {
      workflowId: `${prefix}${String(wp).padStart(2, '0')}`,
      taskQueue: BASELINE_TASK_QUEUE,
      args: [{ year: BASELINE_YEAR, workPoint: wp, title: `合成要点${wp}`, units, dueAt }],
    });
  });
  await until(
    `${expected} baseline assignment rows`,
    async () => ((await countBaselineNotices(stack.pool, BASELINE_YEAR)) >= expected ? true : undefined),
    cfg.BENCH_LAUNCH_TIMEOUT_S * 1000,
    20,
  );
  const allRowsMs = performance.now() - p0;
  const times = await startTimes(client, `WorkflowId STARTS_WITH '${prefix}'`, numbers.length);
  const startedSeconds = (Math.max(...times) - t0) / 1000;
  sampler.enter('baseline launch settle');
  await new Promise((resolve) => setTimeout(resolve, 3_000));
  return {
    workPoints: numbers.length,
    rows: expected,
    concurrency: cfg.startConcurrency,
    allRowsMs: Math.round(allRowsMs),
    workPointsPerSecond: rate(numbers.length, allRowsMs),
    startedSeconds: Math.round(startedSeconds * 100) / 100,
    startedPerSecond: rate(numbers.length, startedSeconds * 1000),
    workerRssMb: sampler.take().baselineWorker?.rssMb,
  };
}

// ─── reports ─────────────────────────────────────────────────────────────────────────────────────────

/** Every (work point, unit) obligation once, in the seeded order both sides send them in. */
export function reportPairs(cfg: BenchConfig, unitIds: string[]): { wp: number; unit: string }[] {
  const pairs: { wp: number; unit: string }[] = [];
  for (let wp = 1; wp <= cfg.BENCH_WP; wp++) for (const unit of unitIds) pairs.push({ wp, unit });
  shuffle(pairs, prng(cfg.BENCH_SEED));
  return pairs.slice(0, Math.min(cfg.BENCH_REPORTS ?? pairs.length, pairs.length));
}

export interface PrimitiveResult {
  n: number;
  concurrency: number;
  /** Closed loop: from the first request to the last answer. */
  seconds: number;
  answeredPerSecond: number;
  latencyMs: Percentiles;
  /** From the first request until every row is in PostgreSQL (an Update answers after that: the same). */
  storedSeconds: number;
  storedPerSecond: number;
}

export interface BaselineReportsResult {
  update: PrimitiveResult;
  signal: PrimitiveResult;
}

/**
 * The same reports, to the launch baselines (one per work point), straight from a Temporal client at the same
 * concurrency as duban's: first as Updates answered once the row is stored, then as signals stored by the workflow.
 */
export async function baselineReports(
  stack: Stack,
  cfg: BenchConfig,
  sampler: Sampler,
  pairs: { wp: number; unit: string }[],
): Promise<BaselineReportsResult> {
  const client = await stack.client();
  const handle = (wp: number) => client.workflow.getHandle(`bare-wp-${BASELINE_YEAR}-${String(wp).padStart(2, '0')}`);
  const report = (p: { wp: number; unit: string }, text: string): BaselineReport => ({
    submissionId: randomUUID(),
    workflowId: `bare-wp-${BASELINE_YEAR}-${String(p.wp).padStart(2, '0')}`,
    cycleYear: BASELINE_YEAR,
    workPoint: p.wp,
    unitId: p.unit,
    text,
    submittedAt: Date.now(),
  });

  const measure = async (
    phase: string,
    send: (p: { wp: number; unit: string }) => Promise<void>,
  ): Promise<PrimitiveResult> => {
    const before = await countBaselineReports(stack.pool, BASELINE_YEAR);
    sampler.enter(phase);
    const latencies: number[] = [];
    const t0 = performance.now();
    await runPool(pairs, cfg.BENCH_CONCURRENCY, async (p) => {
      const s = performance.now();
      await send(p);
      latencies.push(performance.now() - s);
    });
    const answeredMs = performance.now() - t0;
    await until(
      `${pairs.length} baseline reports stored (${phase})`,
      async () => ((await countBaselineReports(stack.pool, BASELINE_YEAR)) - before >= pairs.length ? true : undefined),
      600_000,
      20,
    );
    const storedMs = performance.now() - t0;
    return {
      n: pairs.length,
      concurrency: cfg.BENCH_CONCURRENCY,
      seconds: Math.round(answeredMs / 100) / 10,
      answeredPerSecond: rate(pairs.length, answeredMs),
      latencyMs: percentiles(latencies),
      storedSeconds: Math.round(storedMs / 100) / 10,
      storedPerSecond: rate(pairs.length, storedMs),
    };
  };

  const update = await measure('baseline updates', async (p) => {
    await handle(p.wp).executeUpdate(baselineReportUpdate, {
      args: [report(p, '本期工作按计划推进，已完成阶段任务。')],
    });
  });
  const signal = await measure('baseline signals', async (p) => {
    await handle(p.wp).signal(baselineReportSignal, report(p, '更正：补充本期工作进展。'));
  });
  return { update, signal };
}

export interface ReportsResult {
  sent: number;
  /** Reports of the plan not sent because BENCH_REPORTS_S ran out. */
  notSentTimeBudget: number;
  accepted: number;
  errors: number;
  errorSamples: string[];
  concurrency: number;
  seconds: number;
  /** Answered 已收到, which the reply page says only once the report is stored: durably processed. */
  perSecond: number;
  latencyMs: Percentiles;
  latencyTimeline: ReturnType<typeof latencyTimeline>;
  /** Checked: from the first request until every accepted report is in PostgreSQL. */
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

/** duban's reports: one POST /r/<token> per pair at BENCH_CONCURRENCY, then corrections at half the rate reached. */
export async function submitReports(
  stack: Stack,
  http: HttpClient,
  cfg: BenchConfig,
  sampler: Sampler,
  pairs: { wp: number; unit: string }[],
): Promise<ReportsResult> {
  const keys = parseLinkKeys(stack.linkSecret);
  const exp = Math.floor(Date.now() / 1000) + 400 * 86_400;
  const items = pairs.map((p) => ({
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
      const stored = await countReports(stack.pool, BIG_YEAR);
      if (stack.failure) throw stack.failure;
      return stored >= accepted ? true : undefined;
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
