import { setTimeout as sleep } from 'node:timers/promises';
import { DEMO_UNIT_DIRECTORY } from '../domain/demo-directory';
import type { Plan } from '../domain/plan';
import { shanghaiDate } from '../domain/schedule';
import { httpClient, type HttpClient } from '../bench/measure';
import { Stack } from '../bench/stack';
import { instantCycleOptions, prng } from '../bench/synthetic';
import { departmentSimulation, makeDepartments } from './departments';
import { injectFaults, planFaults } from './faults';
import {
  DEFAULT_CHAOS_OPTIONS,
  EXTRA_LEAD_NAME,
  LEAD_NAMES,
  OFFICE_NAME,
  type Assignment,
  type ChaosOptions,
  type ChaosResult,
  type Drill,
  type Stats,
} from './types';
import { checkDelivery, checkNotices, checkReports, checkWorkflows, settle, type Findings } from './verify';

export {
  DEFAULT_CHAOS_OPTIONS,
  FAULT_TYPES,
  type ChaosOptions,
  type ChaosResult,
  type FaultRecord,
  type FaultType,
} from './types';

/**
 * The chaos drill: a cycle whose periods last seconds runs while simulated departments submit reports over
 * HTTP (some twice at once, some again after "已收到", some after the due instant) and the harness keeps
 * breaking the stack — SIGKILL of the worker, a restart of the Temporal dev server on the same file, all
 * PostgreSQL connections terminated, the API restarted. Afterwards it checks the promises duban makes:
 * nothing a unit was told "已收到" is lost or counted twice, every notice is recorded once, escalations follow
 * the schedule, no workflow failed.
 */

function responsiblePool(): { id: string; name: string }[] {
  const excluded = new Set([...LEAD_NAMES, EXTRA_LEAD_NAME, OFFICE_NAME]);
  return DEMO_UNIT_DIRECTORY.units.filter((u) => !excluded.has(u.name)).map((u) => ({ id: u.id, name: u.name }));
}

/** A small plan for the drill year: work point 2 has a second lead unit, so escalations fan out. */
function drillPlan(year: number, o: ChaosOptions): { plan: Plan; assignments: Assignment[] } {
  const pool = responsiblePool();
  const assignments = Array.from({ length: o.workPoints }, (_, i) => {
    const units = Array.from(
      { length: Math.min(o.unitsPerWorkPoint, pool.length) },
      (_, j) => pool[(i * 2 + j) % pool.length]!,
    );
    return { wp: i + 1, units, leads: i === 1 ? [...LEAD_NAMES, EXTRA_LEAD_NAME] : LEAD_NAMES };
  });
  return {
    assignments,
    plan: {
      title: `${year}年督办演练工作要点（合成数据）`,
      issuer: '演练',
      docNumber: null,
      issuedAt: null,
      year,
      sections: [{ number: '一', title: '演练' }],
      workPoints: assignments.map((a) => ({
        number: a.wp,
        section: '一',
        title: `演练要点${a.wp}`,
        text: `演练要点${a.wp}。按期报送。`,
        leadUnits: a.leads,
        responsibleUnits: a.units.map((u) => u.name),
      })),
    },
  };
}

export async function runChaos(options: Partial<ChaosOptions> = {}): Promise<ChaosResult> {
  const o: ChaosOptions = { ...DEFAULT_CHAOS_OPTIONS, ...options };
  const log = o.log ?? ((m: string) => process.stdout.write(`[chaos] ${m}\n`));
  const random = prng(o.seed);
  const stack = await Stack.start({
    name: 'chaos',
    ...(o.adminDatabaseUrl ? { adminDatabaseUrl: o.adminDatabaseUrl } : {}),
    ...(o.databaseName ? { databaseName: o.databaseName } : {}),
    log,
    onUnexpectedExit: 'restart',
    // Every notice leaves at once (no digest, no quiet hours), and the dispatcher looks every second.
    workerEnv: {
      DIGEST_ENABLED: 'false',
      QUIET_HOURS: 'off',
      DISPATCH_INTERVAL: 'PT1S',
      WORKER_SHUTDOWN_GRACE_MS: '2000',
    },
    // Departments retry the same link every ~0.5 s while Temporal or the API is down, far above the per-link limit
    // meant for people; the drill is about what survives the faults, not about that limit.
    apiEnv: { RATE_LIMIT_REPLY_MAX: '100000' },
  });
  let ok = false;
  const http = httpClient(stack.apiUrl, 64);
  try {
    const result = await drill(stack, http, o, random, log);
    ok = result.violations.length === 0;
    return result;
  } finally {
    http.close();
    await stack.stop({ keep: o.keep === true || !ok });
  }
}

async function drill(
  stack: Stack,
  http: HttpClient,
  o: ChaosOptions,
  random: () => number,
  log: (m: string) => void,
): Promise<ChaosResult> {
  const year = Number(shanghaiDate(Date.now()).slice(0, 4));
  const token = await stack.adminToken('chaos');
  const api = async (method: string, path: string, body: unknown): Promise<unknown> => {
    const res = await http.request(method, path, {
      body: JSON.stringify(body),
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      timeoutMs: 60_000,
    });
    if (res.status >= 300) throw new Error(`${method} ${path} answered ${res.status}: ${res.body.slice(0, 300)}`);
    return JSON.parse(res.body) as unknown;
  };
  const { plan, assignments } = drillPlan(year, o);
  const imported = (await api('POST', '/api/plans', { plan })) as { id: number };

  const t0 = Date.now();
  const dueAt = t0 + o.dueS * 1000;
  const officeAt = dueAt + o.officeS * 1000;
  const reminderBeforeS = Math.max(1, Math.round(o.dueS / 3));
  await api('POST', '/api/cycles', {
    year,
    planId: imported.id,
    options: instantCycleOptions({ opensAt: t0, dueAt, reminderBeforeS, leadAfterS: o.leadS, officeAfterS: o.officeS }),
  });
  const rel = (t: number) => Math.round((t - t0) / 100) / 10;
  log(
    `cycle ${year} started: ${o.workPoints} work points, due at +${o.dueS} s, lead +${o.leadS} s, office +${o.officeS} s`,
  );
  const d: Drill = { stack, http, o, random, log, year, assignments, t0, dueAt, officeAt, rel };

  // The fault plan first, so that some submissions can be timed to be in flight when a fault lands.
  const faultPlan = planFaults(d);
  const departments = makeDepartments(d, faultPlan.times);
  const stats: Stats = {
    posts: 0,
    retries: 0,
    concurrentDuplicates: 0,
    repeatsAfterReceipt: 0,
    corrections: 0,
    opens: 0,
    refused: 0,
  };
  const simulate = departmentSimulation(d, stats);
  const [faults] = await Promise.all([injectFaults(d, faultPlan), ...departments.map(simulate)]);
  if (stack.failure) throw stack.failure;

  // ── settle: the schedule has run out; wait (bounded) until what must have happened has happened ──
  await sleep(Math.max(0, officeAt + 2_000 - Date.now()));
  await stack.waitApiReady();
  const client = await stack.client();
  const waitingFor = await settle(d, departments, client);
  if (waitingFor) log(`did not settle within ${o.settleS} s: ${waitingFor}`);

  // ── verify ──
  const f: Findings = { violations: [], notes: [], lost: [], duplicated: [] };
  const reportRows = await checkReports(d, departments, client, f);
  const { notices, checkedNever, checkedOnTime } = await checkNotices(d, departments, reportRows, f);
  const delivery = checkDelivery(notices, f);
  await checkWorkflows(d, client, f);
  const unanswered = departments.filter((x) => x.behaviour !== 'never' && x.accepted.size === 0);
  if (unanswered.length > 0)
    f.notes.push(
      `${unanswered.length} department(s) never got 已收到 before giving up (not a loss: nothing was promised)`,
    );
  for (const e of stack.unexpectedExits)
    f.notes.push(`${e.part} exited on its own at +${rel(e.at)} s (${e.exit}) and was restarted`);
  if (waitingFor) f.violations.push(`the system did not settle within ${o.settleS} s: ${waitingFor}`);

  const acceptedIds = new Set(departments.flatMap((x) => [...x.accepted]));
  const { lost, duplicated } = f;
  const allViolations = [
    ...f.violations,
    ...lost.map((l) => `lost: ${l}`),
    ...duplicated.map((x) => `duplicated: ${x}`),
  ];
  Object.assign(stats, {
    departments: departments.length,
    onTime: departments.filter((x) => x.behaviour === 'on-time').length,
    late: departments.filter((x) => x.behaviour === 'late').length,
    never: departments.filter((x) => x.behaviour === 'never').length,
    checkedNever,
    checkedOnTime,
    notices: notices.length,
    delivered: delivery.delivered,
    deliveryUnknown: delivery.unknown,
    storedReports: reportRows.length,
  });
  return {
    faults,
    reports: acceptedIds.size,
    lost,
    duplicated,
    violations: allViolations,
    notes: f.notes,
    stats,
    line: `chaos: ${faults.length} faults, ${acceptedIds.size} reports, lost ${lost.length}, duplicated ${duplicated.length}`,
  };
}
