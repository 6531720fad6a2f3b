import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { prepareCycleData } from '../services/cycle-preparation';
import { latestPlanIdForYear } from '../db/plans-repo';
import { DEMO_UNIT_DIRECTORY } from '../domain/demo-directory';
import { PROJECT_ROOT } from '../launcher/binaries';
import { killAllChildrenSync } from '../launcher/children';
import { START_BATCH } from '../workflows/shared';
import { httpClient, loadAverage, scriptArguments } from './measure';
import { Stack } from './stack';
import { syntheticPlan, syntheticUnits } from './synthetic';
import { BIG_YEAR, BenchConfigSchema, farOptions, log, SEED_YEAR, USAGE, type BenchConfig } from './config';
import { Sampler } from './sampler';
import { printResults, resultRows, table, writeResults, type Measured } from './results';
import { apiJson, historyFigures, launchCycle } from './cycle-phases';
import { baseline, submitReports } from './load-phases';

/**
 * `npm run bench`: one run, one isolated stack (real PostgreSQL, file-persisted Temporal dev server, the
 * production worker and API as child processes), measuring the raw Temporal baseline and duban's two hot
 * paths — launching a cycle and receiving reports — side by side. Writes bench/results/<date>.json and .svg.
 */

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

    const m: Measured = {
      cfg,
      startedAt,
      sampler,
      base,
      seed,
      big,
      reports,
      openWorker,
      final,
      bigHistory,
      seedHistory,
      sampleNumbers,
      inputBytes,
      pageBytes,
      dbBytes,
      temporalBytes,
    };
    const printed = table(resultRows(m));
    printResults(m, printed);
    writeResults(m, printed);
    if (reports.errors > 0)
      log(`${reports.errors} report submissions failed, e.g. ${reports.errorSamples.join(' | ')}`);
    ok = true;
  } finally {
    sampler.stop();
    http.close();
    await stack.stop({ keep: cfg.BENCH_KEEP || !ok });
  }
}

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
