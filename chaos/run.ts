import { z } from 'zod';
import { scriptArguments } from '../bench/measure';
import { killAllChildrenSync } from '../launcher/children';
import { DEFAULT_CHAOS_OPTIONS, FAULT_TYPES, runChaos, type FaultType } from './chaos';

/**
 * `npm run chaos`: the chaos drill with its defaults (12 faults over a one-minute drill cycle), configurable
 * through CHAOS_* variables. Prints `chaos: N faults, M reports, lost L, duplicated D` and exits non-zero on
 * any violation.
 */

const d = DEFAULT_CHAOS_OPTIONS;
const ChaosConfigSchema = z.object({
  CHAOS_FAULTS: z.coerce.number().int().min(0).max(500).default(d.faults),
  CHAOS_FAULT_TYPES: z
    .string()
    .default(FAULT_TYPES.join(','))
    .transform((v) => v.split(/[\s,]+/).filter(Boolean))
    .refine((v): v is FaultType[] => v.every((t) => (FAULT_TYPES as readonly string[]).includes(t)), {
      message: `must list some of ${FAULT_TYPES.join(', ')}`,
    }),
  CHAOS_WORK_POINTS: z.coerce.number().int().min(1).max(50).default(d.workPoints),
  CHAOS_UNITS: z.coerce.number().int().min(1).max(12).default(d.unitsPerWorkPoint),
  /** Seconds from the cycle's start to the due instant; the escalations follow after CHAOS_LEAD_S and CHAOS_OFFICE_S. */
  CHAOS_DUE_S: z.coerce.number().int().min(5).max(3600).default(d.dueS),
  CHAOS_LEAD_S: z.coerce.number().int().min(1).max(3600).default(d.leadS),
  CHAOS_OFFICE_S: z.coerce.number().int().min(2).max(3600).default(d.officeS),
  CHAOS_SEED: z.coerce.number().int().optional(),
  CHAOS_SETTLE_S: z.coerce.number().int().min(5).max(3600).default(d.settleS),
  CHAOS_ADMIN_DATABASE_URL: z.string().optional(),
  CHAOS_KEEP: z
    .enum(['true', 'false', '1', '0'])
    .default('false')
    .transform((v) => v === 'true' || v === '1'),
});

async function main(): Promise<void> {
  const parsed = ChaosConfigSchema.safeParse(
    Object.fromEntries(Object.entries(process.env).filter(([k, v]) => k.startsWith('CHAOS_') && v !== '')),
  );
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`invalid configuration: ${issue?.path.join('.') ?? 'CHAOS_*'} ${issue?.message ?? ''}`);
  }
  const cfg = parsed.data;
  if (cfg.CHAOS_OFFICE_S < cfg.CHAOS_LEAD_S)
    throw new Error('invalid configuration: CHAOS_OFFICE_S must be ≥ CHAOS_LEAD_S');
  const seed = cfg.CHAOS_SEED ?? Math.floor(Math.random() * 1_000_000);
  process.stdout.write(`[chaos] seed ${seed} (CHAOS_SEED=${seed} replays the same departments and fault order)\n`);
  const result = await runChaos({
    faults: cfg.CHAOS_FAULTS,
    faultTypes: cfg.CHAOS_FAULT_TYPES,
    workPoints: cfg.CHAOS_WORK_POINTS,
    unitsPerWorkPoint: cfg.CHAOS_UNITS,
    dueS: cfg.CHAOS_DUE_S,
    leadS: cfg.CHAOS_LEAD_S,
    officeS: cfg.CHAOS_OFFICE_S,
    seed,
    settleS: cfg.CHAOS_SETTLE_S,
    keep: cfg.CHAOS_KEEP,
    ...(cfg.CHAOS_ADMIN_DATABASE_URL ? { adminDatabaseUrl: cfg.CHAOS_ADMIN_DATABASE_URL } : {}),
  });
  const out = (line: string) => process.stdout.write(`${line}\n`);
  out('');
  for (const f of result.faults) out(`fault +${f.at} s ${f.type}: ${f.detail}`);
  out(
    `stats: ${Object.entries(result.stats)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
  );
  for (const note of result.notes) out(`note: ${note}`);
  for (const v of result.violations) out(`VIOLATION: ${v}`);
  out(result.line);
  process.exitCode = result.violations.length > 0 ? 1 : 0;
}

const USAGE = `npm run chaos — 故障演练 / the chaos drill

用法 / usage: [CHAOS_…=…] npm run chaos            (npm run chaos -- --help: this text)

A drill cycle whose period lasts seconds runs on a stack of its own (a fresh database duban_chaos_<stamp>, a
Temporal dev server with its data in .data/chaos-<stamp>, the production worker and API) while simulated
departments reply over HTTP and the harness kills the worker, Temporal, the database connections and the API.
Then it checks that no answered report was lost or counted twice and every notice went out once (chaos/README.md),
prints "chaos: N faults, M reports, lost L, duplicated D" and exits 1 on any violation.

变量 / variables [default]:
  CHAOS_FAULTS               [${d.faults}]        faults injected, evenly spread over the drill
  CHAOS_FAULT_TYPES          [${FAULT_TYPES.join(',')}]
                                       which faults: some of ${FAULT_TYPES.join(', ')}
  CHAOS_WORK_POINTS          [${d.workPoints}]         work points of the drill plan
  CHAOS_UNITS                [${d.unitsPerWorkPoint}]         demo units per work point (at most 12)
  CHAOS_DUE_S                [${d.dueS}]        seconds from the cycle's start to the due instant
  CHAOS_LEAD_S, CHAOS_OFFICE_S [${d.leadS}, ${d.officeS}]  lead and office escalation, seconds after the due instant
  CHAOS_SEED                 [random, printed]  replays the same departments and fault order
  CHAOS_SETTLE_S             [${d.settleS}]       upper bound on waiting for everything to settle afterwards, seconds
  CHAOS_ADMIN_DATABASE_URL   [postgres://postgres@127.0.0.1:5432/postgres]
                                       where the drill's database is created and dropped
  CHAOS_KEEP                 [false]     keep the database and .data/chaos-* (always kept after a violation)
`;

scriptArguments('chaos', USAGE, 'CHAOS_*');
process.on('SIGINT', () => {
  killAllChildrenSync();
  process.exit(130);
});
main().catch((err: unknown) => {
  process.stderr.write(`chaos: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  killAllChildrenSync();
  process.exit(1);
});
