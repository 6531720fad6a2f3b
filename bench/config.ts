import path from 'node:path';
import { z } from 'zod';
import { PROJECT_ROOT } from '../launcher/binaries';
import { DEFAULT_ADMIN_DATABASE_URL } from './stack';
import { instantCycleOptions } from './synthetic';

/** The benchmark's configuration (BENCH_* variables, `--quick`), its usage text and the constants its phases share. */

export const flag = z
  .enum(['true', 'false', '1', '0'])
  .default('false')
  .transform((v) => v === 'true' || v === '1');

export const BenchConfigSchema = z.object({
  BENCH_WP: z.coerce.number().int().min(1).max(5000).default(1000),
  BENCH_UNITS: z.coerce.number().int().min(1).max(200).default(20),
  BENCH_CONCURRENCY: z.coerce.number().int().min(1).max(512).default(16),
  /** Client starts in flight in the baselines' start phases; default BENCH_CONCURRENCY. */
  BENCH_START_CONCURRENCY: z.coerce.number().int().min(1).max(512).optional(),
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
  /** Run `npm run build` first, so the worker finds the prebuilt workflow bundle as production does. */
  BENCH_BUILD: z
    .enum(['true', 'false', '1', '0'])
    .default('true')
    .transform((v) => v === 'true' || v === '1'),
  BENCH_KEEP: flag,
  BENCH_OUT: z.string().default(path.join(PROJECT_ROOT, 'bench', 'results')),
  BENCH_SEED: z.coerce.number().int().default(7),
  /** Upper bound on the synthetic cycle's launch (all assignment notices recorded), seconds. */
  BENCH_LAUNCH_TIMEOUT_S: z.coerce.number().int().positive().default(900),
});
export type BenchConfig = z.infer<typeof BenchConfigSchema> & { quick: boolean; startConcurrency: number };

/** `--quick`: smaller sizes and a shorter paced phase (a few minutes on 2 cores); BENCH_* variables still win. */
export const QUICK_DEFAULTS: Record<string, string> = {
  BENCH_WP: '200',
  BENCH_UNITS: '10',
  BENCH_REPORTS_S: '60',
  BENCH_PACED_S: '20',
  BENCH_PACED_N: '1000',
  BENCH_LAUNCH_TIMEOUT_S: '300',
};

/** The configuration from the environment (BENCH_* set and non-empty) over the quick preset when asked for. */
export function parseBenchConfig(
  env: NodeJS.ProcessEnv,
  quick: boolean,
): { ok: true; config: BenchConfig } | { ok: false; message: string } {
  const given = Object.fromEntries(
    Object.entries(env).filter((e): e is [string, string] => e[0].startsWith('BENCH_') && !!e[1]),
  );
  const parsed = BenchConfigSchema.safeParse({ ...(quick ? QUICK_DEFAULTS : {}), ...given });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { ok: false, message: `${issue?.path.join('.') ?? 'BENCH_*'} ${issue?.message ?? ''}` };
  }
  const config = parsed.data;
  return {
    ok: true,
    config: { ...config, quick, startConcurrency: config.BENCH_START_CONCURRENCY ?? config.BENCH_CONCURRENCY },
  };
}

export const SEED_YEAR = 2023;
export const BIG_YEAR = 2024;
/** The baseline's own rows (bench_outbox, bench_reports) carry these years: warm-up and measured run. */
export const BASELINE_WARM_YEAR = 1998;
export const BASELINE_YEAR = 1999;
export const DAY = 86_400_000;
/** Long enough that nothing is due, reminded or escalated while the benchmark runs. */
export const farOptions = (now: number) =>
  instantCycleOptions({
    opensAt: now,
    dueAt: now + 30 * DAY,
    reminderBeforeS: 3 * 86_400,
    leadAfterS: 3 * 86_400,
    officeAfterS: 5 * 86_400,
  });

export const log = (msg: string): void => {
  process.stdout.write(`[bench] ${msg}\n`);
};
export const rate = (n: number, ms: number): number => (ms > 0 ? Math.round((n / (ms / 1000)) * 10) / 10 : 0);

export const USAGE = `npm run bench — duban 与裸 Temporal 的基准测试 / duban measured against the bare Temporal client

用法 / usage: [BENCH_…=…] npm run bench [-- --quick]     (npm run bench -- --help: this text)

One run on a stack of its own: a fresh database duban_bench_<stamp> on the PostgreSQL server of
BENCH_ADMIN_DATABASE_URL, a Temporal dev server with its data in .data/bench-<stamp>, and the production worker and
API. Each duban path is measured beside a bare-Temporal baseline doing the same Temporal work (bench/README.md):
work points durably started vs bare starts; launch to the last assignment notice vs workflows whose first task runs
one local activity writing the same rows; reports durably processed through the API vs bare Updates (bare signals
beside them); worker RSS; the seed cycle. It prints a table and writes bench/results/<date>.json (with a summary
array) and .svg, then drops the database and removes the directory. Ctrl-C (SIGINT or SIGTERM) stops the stack and
removes them too; a second Ctrl-C kills everything at once.

  --quick    ${Object.entries(QUICK_DEFAULTS)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ')}
             (a few minutes; the variables below still win)

变量 / variables [default]:
  BENCH_WP, BENCH_UNITS               [1000, 20]  size of the synthetic plan (work points × units); the baselines
                                                  start as many workflows and write as many rows
  BENCH_CONCURRENCY                   [16]        requests in flight (reports, Updates and signals, both sides)
  BENCH_START_CONCURRENCY             [= BENCH_CONCURRENCY]  client starts in flight in the baselines
  BENCH_REPORTS                       [W × U]     reports in the closed-loop phase (the baselines send as many)
  BENCH_REPORTS_S, BENCH_PACED_S      [300, 60]   time budgets of the closed-loop and the paced phase, seconds
  BENCH_PACED_N                       [2000]      corrections at half the maximum rate (0: skip)
  BENCH_LAUNCH_TIMEOUT_S              [900]       upper bound on the synthetic cycle's launch, seconds
  BENCH_BUILD                         [true]      run npm run build first (the prebuilt workflow bundle, if it
                                                  makes one, is what the worker loads, as in production)
  BENCH_WORKER_MAX_CACHED_WORKFLOWS   [—]         passed to the duban worker as WORKER_MAX_CACHED_WORKFLOWS
  BENCH_WORKER_NODE_ARGS              [—]         extra node flags of the worker, e.g. --cpu-prof --cpu-prof-dir=/tmp/prof
  BENCH_LOG_LEVEL                     [warn]      LOG_LEVEL of worker and API (their logs: .data/bench-*/logs/)
  BENCH_KEEP                          [false]     keep the database and .data/bench-* (always kept on failure)
  BENCH_ADMIN_DATABASE_URL            [${DEFAULT_ADMIN_DATABASE_URL}]
                                                  where the benchmark's database is created and dropped
  BENCH_OUT                           [bench/results]  where the results go
  BENCH_SEED                          [7]         seed of the order in which reports are sent
`;
