import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { prepareCycleData } from '../services/cycle-preparation';
import { latestPlanIdForYear } from '../db/plans-repo';
import { createBaselineTables } from '../db/bench-queries';
import { DEMO_UNIT_DIRECTORY } from '../domain/demo-directory';
import { PROJECT_ROOT, resolveBinary } from '../launcher/binaries';
import { killAllChildrenSync, stopChild, type ManagedChild } from '../launcher/children';
import { httpClient, loadAverage, procSample, scriptArguments } from './measure';
import { Stack } from './stack';
import { syntheticPlan, syntheticUnits } from './synthetic';
import { BIG_YEAR, farOptions, log, parseBenchConfig, SEED_YEAR, USAGE, type BenchConfig } from './config';
import { Sampler } from './sampler';
import {
  comparisons,
  detailRows,
  detailTable,
  printResults,
  summaryOf,
  summaryTable,
  writeResults,
  type BuildInfo,
  type Measured,
} from './results';
import { apiJson, historyFigures, launchCycle } from './cycle-phases';
import {
  bareStarts,
  baselineLaunch,
  baselineReports,
  reportPairs,
  startBaselineWorker,
  submitReports,
} from './load-phases';

/**
 * `npm run bench`: one run, one isolated stack (real PostgreSQL, file-persisted Temporal dev server, the
 * production worker and API as child processes), measuring duban's hot paths — starting work points, launching a
 * cycle to its last assignment notice, receiving reports — each beside a bare-Temporal baseline doing the same
 * Temporal work. Writes bench/results/<date>.json (with a `summary` array) and .svg.
 */

/** Where the worker finds a prebuilt workflow bundle, when `npm run build` makes one. */
const BUNDLE = path.join('dist', 'workflow-bundle.js');

/** `npm run build` (unless BENCH_BUILD=false), so the worker loads what production loads; says what it found. */
function build(cfg: BenchConfig): BuildInfo {
  let seconds: number | undefined;
  if (cfg.BENCH_BUILD) {
    log('npm run build (BENCH_BUILD=false skips it)');
    const started = Date.now();
    // Under `npm run bench`, npm_execpath names the npm that runs us; use the same one.
    const npmCli = process.env.npm_execpath;
    const [command, args] =
      npmCli && npmCli.endsWith('.js') ? [process.execPath, [npmCli, 'run', 'build']] : ['npm', ['run', 'build']];
    const result = spawnSync(command, args, { cwd: PROJECT_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    if (result.error || result.status !== 0) {
      throw new Error(
        `npm run build failed: ${result.error?.message ?? `${result.stdout}\n${result.stderr}`.trim().slice(-2000)}`,
      );
    }
    seconds = Math.round((Date.now() - started) / 100) / 10;
  }
  let bundleBytes: number | undefined;
  try {
    bundleBytes = statSync(path.join(PROJECT_ROOT, BUNDLE)).size;
  } catch {
    bundleBytes = undefined;
  }
  log(
    bundleBytes === undefined
      ? `workflow code: no ${BUNDLE}${cfg.BENCH_BUILD ? ` after npm run build (${seconds} s)` : ''}; the worker bundles at start`
      : `workflow code: prebuilt ${BUNDLE} (${(bundleBytes / 1048576).toFixed(2)} MiB${cfg.BENCH_BUILD ? `, npm run build ${seconds} s` : ', not rebuilt'})`,
  );
  return {
    ran: cfg.BENCH_BUILD,
    ...(seconds !== undefined ? { seconds } : {}),
    bundle: BUNDLE,
    bundlePresent: bundleBytes !== undefined,
    ...(bundleBytes !== undefined ? { bundleBytes } : {}),
  };
}

async function main(cfg: BenchConfig): Promise<void> {
  const startedAt = new Date();
  log(
    `W=${cfg.BENCH_WP} work points × U=${cfg.BENCH_UNITS} units${cfg.quick ? ' (--quick)' : ''}, ` +
      `concurrency ${cfg.BENCH_CONCURRENCY} (starts ${cfg.startConcurrency}); ${os.cpus().length} CPUs, load average ${loadAverage()}`,
  );
  const buildInfo = build(cfg);
  // The dev server: on PATH, or installed into .tools/ once, as `npm run tools` would.
  resolveBinary('temporal', { install: true, log });

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
  const buildAndStart: BuildInfo = {
    ...buildInfo,
    ...(stack.workerReadyMs !== undefined ? { workerReadyMs: stack.workerReadyMs } : {}),
    ...(procSample(stack.pid('worker')) ? { workerRssAtReadyMb: procSample(stack.pid('worker'))?.rssMb } : {}),
  };
  let ok = false;
  const http = httpClient(stack.apiUrl, Math.max(cfg.BENCH_CONCURRENCY, 8));
  let baselineWorker: ManagedChild | undefined;
  const sampler = new Sampler(stack, () => baselineWorker?.pid);
  sampler.start();
  try {
    const client = await stack.client();
    const token = await stack.adminToken('bench');
    await createBaselineTables(stack.pool);
    log('baseline worker: starting and warming up');
    baselineWorker = await startBaselineWorker(stack, cfg, buildInfo.bundlePresent);

    // The seed plan (29 work points) with the demo directory, as npm start seeds it.
    sampler.enter('seed cycle');
    const seedPlanId = await latestPlanIdForYear(stack.pool, SEED_YEAR);
    if (seedPlanId === undefined) throw new Error('the seed plan was not imported');
    log('seed cycle: 29 work points, demo directory');
    const seed = await launchCycle(stack, http, token, SEED_YEAR, seedPlanId, 120_000);
    log(`  202 after ${seed.acceptedMs} ms, all ${seed.notices} assignment notices after ${seed.allNoticesMs} ms`);

    log(`baseline: ${cfg.BENCH_WP} client starts of a trivial workflow, ${cfg.startConcurrency} in flight`);
    const starts = await bareStarts(stack, cfg, sampler);
    log(`  durably started at ${starts.perSecond}/s (${starts.seconds} s)`);

    log(
      `baseline: ${cfg.BENCH_WP} client starts, each first task one local activity writing ${cfg.BENCH_UNITS} assignment rows`,
    );
    const baseLaunch = await baselineLaunch(stack, cfg, sampler);
    log(
      `  last row after ${(baseLaunch.allRowsMs / 1000).toFixed(1)} s: ${baseLaunch.workPointsPerSecond} work points/s ` +
        `(started at ${baseLaunch.startedPerSecond}/s); baseline worker RSS ${baseLaunch.workerRssMb} MB`,
    );

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
    // All inputs together (what prepareCycle returned before paging); the largest payload is now one work point's
    // start input: the start activity loads its slice from PostgreSQL, and the cycle passes only numbers.
    const inputBytes =
      prepared.kind === 'ok' ? Buffer.byteLength(JSON.stringify({ workPoints: prepared.workPoints })) : 0;
    const largestInputBytes =
      prepared.kind === 'ok'
        ? Math.max(0, ...prepared.workPoints.map((wp) => Buffer.byteLength(JSON.stringify(wp))))
        : 0;

    sampler.enter('big cycle launch');
    log(
      `cycle ${BIG_YEAR}: ${cfg.BENCH_WP} × ${cfg.BENCH_UNITS} (all inputs ${(inputBytes / 1024).toFixed(0)} KiB; ` +
        `the largest payload, one work point's input, ${(largestInputBytes / 1024).toFixed(1)} KiB)`,
    );
    const big = await launchCycle(stack, http, token, BIG_YEAR, bigPlanId, cfg.BENCH_LAUNCH_TIMEOUT_S * 1000);
    log(
      `  202 after ${big.acceptedMs} ms, all ${big.notices} assignment notices after ${(big.allNoticesMs / 1000).toFixed(1)} s ` +
        `(${big.workPointsPerSecond} work points/s); work points durably started at ${big.startedPerSecond}/s`,
    );

    // Let the status projections finish, then read the worker with every work point open.
    sampler.enter('settle');
    await sleep(5_000);
    const openWorker = sampler.take().worker;
    log(`  worker RSS with ${cfg.BENCH_WP + seed.workPoints} open work points: ${openWorker?.rssMb} MB`);

    const pairs = reportPairs(
      cfg,
      units.map((u) => u.id),
    );
    log(
      `reports: ${pairs.length} POST /r/<token>, ${cfg.BENCH_CONCURRENCY} in flight (time budget ${cfg.BENCH_REPORTS_S} s)`,
    );
    const reports = await submitReports(stack, http, cfg, sampler, pairs);
    log(
      `  ${reports.perSecond}/s answered 已收到 (stored; p50 ${reports.latencyMs.p50} ms, p99 ${reports.latencyMs.p99} ms), ` +
        `all in PostgreSQL at ${reports.durablePerSecond}/s`,
    );
    if (reports.paced) {
      log(
        `  at ${reports.paced.targetPerSecond}/s: p50 ${reports.paced.latencyMs.p50} ms, p99 ${reports.paced.latencyMs.p99} ms`,
      );
    }

    const sent = pairs.slice(0, reports.sent);
    log(
      `baseline: the same ${sent.length} reports as bare Updates, then as bare signals, ${cfg.BENCH_CONCURRENCY} in flight`,
    );
    const baseReports = await baselineReports(stack, cfg, sampler, sent);
    log(
      `  Updates ${baseReports.update.answeredPerSecond}/s (p99 ${baseReports.update.latencyMs.p99} ms); ` +
        `signals answered ${baseReports.signal.answeredPerSecond}/s, stored ${baseReports.signal.storedPerSecond}/s`,
    );
    sampler.enter('baseline stop');
    await stopChild(baselineWorker, 'SIGTERM', 10_000, log);
    baselineWorker = undefined;

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

    const m: Measured = {
      cfg,
      startedAt,
      build: buildAndStart,
      sampler,
      bareStarts: starts,
      baseLaunch,
      baseReports,
      seed,
      big,
      reports,
      openWorker,
      final,
      bigHistory,
      seedHistory,
      sampleNumbers,
      inputBytes,
      largestInputBytes,
      dbBytes,
      temporalBytes,
    };
    const rows = comparisons(m);
    const printed = `${summaryTable(rows)}\n\n${detailTable(detailRows(m))}`;
    printResults(m, printed);
    writeResults(m, summaryOf(rows), printed);
    if (reports.errors > 0)
      log(`${reports.errors} report submissions failed, e.g. ${reports.errorSamples.join(' | ')}`);
    ok = true;
  } finally {
    sampler.stop();
    http.close();
    if (baselineWorker) await stopChild(baselineWorker, 'SIGTERM', 10_000, log).catch(() => undefined);
    await stack.stop({ keep: cfg.BENCH_KEEP || !ok });
    log(`wall time ${((Date.now() - startedAt.getTime()) / 1000).toFixed(0)} s, load average ${loadAverage()}`);
  }
}

/** The stack as soon as it exists, so that Ctrl-C can remove it even while it starts. */
let stackToStop: Stack | undefined;
/** The terminal and scripts/bench.js may both deliver one Ctrl-C; signals this close together count once. */
const SAME_SIGNAL_WINDOW_MS = 1_000;
let firstSignalAt: number | undefined;
/**
 * Ctrl-C or SIGTERM: stop the stack and drop what it created (unless BENCH_KEEP), then exit 130. A second
 * signal kills every child at once and leaves the database and the directory behind.
 */
function stopOnSignal(keep: boolean): void {
  const onSignal = (signal: NodeJS.Signals) => {
    const now = Date.now();
    if (firstSignalAt !== undefined) {
      if (now - firstSignalAt <= SAME_SIGNAL_WINDOW_MS) return;
      log(`${signal} again: killing everything now; the database and data directory stay`);
      killAllChildrenSync();
      process.exit(130);
    }
    firstSignalAt = now;
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

const flags = scriptArguments('bench', USAGE, 'BENCH_*', ['--quick']);
const parsed = parseBenchConfig(process.env, flags.has('--quick'));
if (!parsed.ok) {
  process.stderr.write(`bench: 配置无效 / invalid configuration: ${parsed.message} (npm run bench -- --help)\n`);
  process.exit(2);
}
stopOnSignal(parsed.config.BENCH_KEEP);
main(parsed.config).catch((err: unknown) => {
  // After a signal the stack fails under the harness's feet; the signal handler reports and exits.
  if (firstSignalAt !== undefined) return;
  process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  killAllChildrenSync();
  process.exit(1);
});
