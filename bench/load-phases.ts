import { randomUUID } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Client } from '@temporalio/client';
import { parseLinkKeys, signLink } from '../common/links';
import { PROJECT_ROOT } from '../launcher/binaries';
import { spawnChild, stopChild, type ManagedChild } from '../launcher/children';
import { BASELINE_TASK_QUEUE, pokeSignal, trivial } from './baseline-workflow';
import {
  FORM_HEADERS,
  formBody,
  latencyTimeline,
  percentiles,
  procSample,
  runPaced,
  runPool,
  until,
  type HttpClient,
  type Percentiles,
} from './measure';
import { Stack } from './stack';
import { prng, shuffle } from './synthetic';
import { BIG_YEAR, log, rate, type BenchConfig } from './config';
import { Sampler } from './sampler';
import { countReports } from '../db/bench-queries';
/** The load phases: the bare-Temporal baseline, and reports posted to duban's reply links. */

export interface BaselineResult {
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

export async function baseline(
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

export interface ReportsResult {
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

export async function submitReports(
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
