import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { WorkflowNotFoundError } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { OUTCOME_UNKNOWN } from '../activities/delivery';
import { scopedSubmissionId } from '../api/routes/reply';
import { parseLinkKeys, signLink } from '../common/links';
import { DEMO_UNIT_DIRECTORY } from '../domain/demo-directory';
import type { Plan } from '../domain/plan';
import { shanghaiDate } from '../domain/schedule';
import { DISPATCHER_WORKFLOW_ID } from '../workflows/dispatcher';
import { type WorkPointStatus } from '../domain/model';
import { cycleWorkflowId, submitReportUpdate, statusQuery, workPointWorkflowId } from '../workflows/shared';
import { FORM_HEADERS, formBody, httpClient, type HttpClient } from '../bench/measure';
import { Stack } from '../bench/stack';
import { instantCycleOptions, prng, shuffle } from '../bench/synthetic';

/**
 * The chaos drill: a cycle whose periods last seconds runs while simulated departments submit reports over
 * HTTP (some twice at once, some again after "已收到", some after the due instant) and the harness keeps
 * breaking the stack — SIGKILL of the worker, a restart of the Temporal dev server on the same file, all
 * PostgreSQL connections terminated, the API restarted. Afterwards it checks the promises duban makes:
 * nothing a unit was told "已收到" is lost or counted twice, every notice is recorded once, escalations follow
 * the schedule, no workflow failed.
 */

export type FaultType = 'worker' | 'temporal' | 'postgres' | 'api';
export const FAULT_TYPES: readonly FaultType[] = ['worker', 'temporal', 'postgres', 'api'];

export interface ChaosOptions {
  faults: number;
  faultTypes?: readonly FaultType[];
  workPoints: number;
  unitsPerWorkPoint: number;
  /** Seconds from the cycle's start to the due instant, and the escalations after it. */
  dueS: number;
  leadS: number;
  officeS: number;
  seed: number;
  /** Upper bound on waiting for the system to settle after the drill, seconds. */
  settleS: number;
  adminDatabaseUrl?: string;
  databaseName?: string;
  keep?: boolean;
  log?: (msg: string) => void;
}

export const DEFAULT_CHAOS_OPTIONS: ChaosOptions = {
  faults: 12,
  workPoints: 3,
  unitsPerWorkPoint: 5,
  dueS: 40,
  leadS: 10,
  officeS: 20,
  seed: 1,
  settleS: 120,
};

export interface FaultRecord {
  type: FaultType;
  /** Seconds after the cycle started. */
  at: number;
  /** How long the part was away, or for PostgreSQL how many connections were cut. */
  detail: string;
}

export interface ChaosResult {
  faults: FaultRecord[];
  /** Distinct submission ids answered 200 "已收到". */
  reports: number;
  lost: string[];
  duplicated: string[];
  violations: string[];
  notes: string[];
  stats: Record<string, number>;
  line: string;
}

type Behaviour = 'on-time' | 'late' | 'never';
/**
 * How an on-time department submits: twice at once (a double click), again after the receipt (back button),
 * once plus a correction, or 'interrupted': the API signalled the workflow and died before it wrote the
 * receipt, so the person submits the same form again and the workflow sees the submission id twice. The
 * chaos faults make that last case happen by chance; this variant makes it happen every run.
 */
type Variant = 'double' | 'repeat' | 'correct' | 'interrupted' | 'single';

interface Department {
  wp: number;
  unitId: string;
  unitName: string;
  behaviour: Behaviour;
  variant: Variant;
  /** When it acts (epoch ms), and whether it opens the page first (签收). */
  submitAt: number;
  opensPage: boolean;
  token: string;
  /** Submission ids answered 200 "已收到", and when the first answer came (epoch ms). */
  accepted: Set<string>;
  firstAcceptedAt?: number;
  /** Every submission id sent at least once. */
  attempted: Set<string>;
}

const EventType = temporal.api.enums.v1.EventType;
const RETRY_MIN_MS = 300;
const MAX_ATTEMPTS = 200;

const LEAD_NAMES = ['经发局'];
const EXTRA_LEAD_NAME = '财政局';
const OFFICE_NAME = '园区依法治区办';

function responsiblePool(): { id: string; name: string }[] {
  const excluded = new Set([...LEAD_NAMES, EXTRA_LEAD_NAME, OFFICE_NAME]);
  return DEMO_UNIT_DIRECTORY.units.filter((u) => !excluded.has(u.name)).map((u) => ({ id: u.id, name: u.name }));
}

/** A small plan for the drill year: work point 2 has a second lead unit, so escalations fan out. */
function drillPlan(
  year: number,
  o: ChaosOptions,
): { plan: Plan; assignments: { wp: number; units: { id: string; name: string }[]; leads: string[] }[] } {
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

  // ── departments ──
  const keys = parseLinkKeys(stack.linkSecret);
  const exp = Math.floor(Date.now() / 1000) + 86_400;
  const departments: Department[] = assignments.flatMap((a) =>
    a.units.map((u) => ({
      wp: a.wp,
      unitId: u.id,
      unitName: u.name,
      behaviour: 'never',
      variant: 'single',
      submitAt: t0,
      opensPage: false,
      token: signLink(keys, { y: year, wp: a.wp, u: u.id, p: 'report', per: 'P1', exp }),
      accepted: new Set<string>(),
      attempted: new Set<string>(),
    })),
  );
  // ── the fault plan, made first so that some submissions can be timed to be in flight when a fault lands ──
  const types = o.faultTypes && o.faultTypes.length > 0 ? o.faultTypes : FAULT_TYPES;
  const order: FaultType[] = [];
  while (order.length < o.faults) order.push(...shuffle([...types], random));
  order.length = o.faults;
  const windowStart = t0 + 2_000;
  const faultTimes = order.map((_, i) => windowStart + ((officeAt - windowStart) * i) / Math.max(1, o.faults - 1));
  const pickTime = (from: number, to: number): number => {
    const near = faultTimes.filter((t) => t > from + 600 && t < to);
    if (near.length > 0 && random() < 0.6)
      // From just before (the worker is busy with it when killed) to just after (the API or Temporal is away).
      return (near[Math.floor(random() * near.length)] ?? from) - 600 + random() * 1_600;
    return from + random() * (to - from);
  };

  // Every behaviour and variant at least once, the rest drawn: about 55 % on time, 20 % late, 25 % never.
  const forced: [Behaviour, Variant][] = [
    ['on-time', 'double'],
    ['late', 'single'],
    ['never', 'single'],
    ['on-time', 'repeat'],
    ['on-time', 'correct'],
    ['on-time', 'interrupted'],
  ];
  shuffle(departments, random).forEach((d, i) => {
    const r = random();
    const v = random();
    [d.behaviour, d.variant] = forced[i] ?? [
      r < 0.55 ? 'on-time' : r < 0.75 ? 'late' : 'never',
      v < 0.3 ? 'double' : v < 0.55 ? 'repeat' : v < 0.8 ? 'correct' : 'interrupted',
    ];
    d.opensPage = random() < 0.5;
    d.submitAt =
      d.behaviour === 'late'
        ? pickTime(dueAt + 0.15 * o.leadS * 1000, dueAt + 0.5 * o.leadS * 1000)
        : pickTime(t0 + 0.1 * o.dueS * 1000, t0 + 0.55 * o.dueS * 1000);
  });

  const stats: Record<string, number> = {
    posts: 0,
    retries: 0,
    concurrentDuplicates: 0,
    repeatsAfterReceipt: 0,
    corrections: 0,
    opens: 0,
    refused: 0,
  };
  const retryUntil = officeAt + 10_000;

  /** One submission, retried with the same submission id until it is answered 200 or 409, or time is up. */
  /** The id the workflow and PostgreSQL know a form by (the API scopes it to the link). */
  const scoped = (d: Department, formId: string) =>
    scopedSubmissionId({ year, workPoint: d.wp, unitId: d.unitId, purpose: 'report', periodId: 'P1' }, formId);
  const submit = async (d: Department, formId: string, text: string): Promise<boolean> => {
    const submissionId = scoped(d, formId);
    d.attempted.add(submissionId);
    for (let attempt = 0; attempt < MAX_ATTEMPTS && Date.now() < retryUntil; attempt++) {
      if (attempt > 0) stats.retries = (stats.retries ?? 0) + 1;
      stats.posts = (stats.posts ?? 0) + 1;
      try {
        const res = await http.request('POST', `/r/${d.token}`, {
          body: formBody({ submissionId: formId, text }),
          headers: FORM_HEADERS,
          timeoutMs: 10_000,
        });
        if (res.status === 200 && res.body.includes('已收到')) {
          // The page says so when the receipt already existed, or the workflow knew the form: counted once.
          const key = res.body.includes('重复提交只计一次') ? 'answeredFromReceipt' : 'answeredAfterUpdate';
          stats[key] = (stats[key] ?? 0) + 1;
          d.accepted.add(submissionId);
          d.firstAcceptedAt ??= Date.now();
          return true;
        }
        if (res.status === 409 || res.status === 422 || res.status === 403) {
          stats.refused = (stats.refused ?? 0) + 1;
          return false;
        }
      } catch {
        // Connection refused or reset while the API restarts: the person clicks again.
      }
      await sleep(RETRY_MIN_MS + Math.random() * 500);
    }
    return false;
  };
  const openPage = async (d: Department): Promise<void> => {
    stats.opens = (stats.opens ?? 0) + 1;
    await http.request('GET', `/r/${d.token}`, { timeoutMs: 10_000 }).catch(() => undefined);
  };

  /** What api/routes/reply.ts sends once the form is valid, as if the API died before answering. */
  const updateLikeTheApi = async (d: Department, formId: string, text: string): Promise<void> => {
    const client = await stack.client();
    const submissionId = scoped(d, formId);
    const payload = { unitId: d.unitId, periodId: 'P1', submissionId, text, attachments: [], submittedAt: Date.now() };
    for (let attempt = 0; attempt < MAX_ATTEMPTS && Date.now() < retryUntil; attempt++) {
      try {
        await client.workflow.getHandle(workPointWorkflowId(year, d.wp)).executeUpdate(submitReportUpdate, {
          args: [payload],
        });
        return;
      } catch {
        await sleep(RETRY_MIN_MS + Math.random() * 500);
      }
    }
  };

  const simulate = async (d: Department): Promise<void> => {
    await sleep(Math.max(0, d.submitAt - Date.now()));
    if (d.opensPage) await openPage(d);
    if (d.behaviour === 'never') return;
    const id = randomUUID();
    const text = `${d.unitName}报送第${d.wp}条进展（${d.behaviour}）`;
    if (d.behaviour === 'on-time' && d.variant === 'double') {
      // A double click: the same form twice at once, so both requests pass the receipt check and send the update.
      stats.concurrentDuplicates = (stats.concurrentDuplicates ?? 0) + 1;
      await Promise.all([submit(d, id, text), submit(d, id, text)]);
      return;
    }
    if (d.behaviour === 'on-time' && d.variant === 'interrupted') {
      stats.interrupted = (stats.interrupted ?? 0) + 1;
      d.attempted.add(scoped(d, id));
      await updateLikeTheApi(d, id, text);
    }
    const accepted = await submit(d, id, text);
    if (!accepted || d.behaviour !== 'on-time') return;
    if (d.variant === 'repeat') {
      // The back button and submit again: the receipt must say it counted once.
      stats.repeatsAfterReceipt = (stats.repeatsAfterReceipt ?? 0) + 1;
      await submit(d, id, text);
    } else if (d.variant === 'correct' && Date.now() < t0 + 0.7 * o.dueS * 1000) {
      stats.corrections = (stats.corrections ?? 0) + 1;
      await submit(d, randomUUID(), `${text}（更正）`);
    }
  };

  // ── faults ──
  const faults: FaultRecord[] = [];
  let workerBack: Promise<void> = Promise.resolve();
  let apiRestarts = 0;
  const injectFaults = async (): Promise<void> => {
    for (const [i, type] of order.entries()) {
      // A worker kill should hit a worker that works, not one still bundling its workflows.
      if (type === 'worker') await workerBack;
      await sleep(Math.max(0, (faultTimes[i] ?? 0) - Date.now()));
      const started = Date.now();
      const record: FaultRecord = { type, at: rel(started), detail: '' };
      if (type === 'postgres') {
        record.detail = `${await stack.terminateConnections()} connections terminated`;
      } else {
        const signal: NodeJS.Signals = type === 'api' && apiRestarts++ % 2 === 1 ? 'SIGTERM' : 'SIGKILL';
        const ms = await stack.restart(type, signal);
        record.detail = `${signal}, ${type === 'worker' ? 'respawned' : 'back'} after ${(ms / 1000).toFixed(1)} s`;
        if (type === 'worker') {
          workerBack = stack.waitWorkerPolling(90_000).then(
            (polling) => {
              record.detail += `, polling again after ${((polling + ms) / 1000).toFixed(1)} s`;
            },
            (err: unknown) => {
              record.detail += `, not polling: ${err instanceof Error ? err.message : String(err)}`;
            },
          );
        }
      }
      faults.push(record);
      log(`fault ${faults.length}/${o.faults} at +${record.at} s: ${type} (${record.detail})`);
    }
    await workerBack;
  };

  await Promise.all([injectFaults(), ...departments.map(simulate)]);
  if (stack.failure) throw stack.failure;

  // ── settle: the schedule has run out; wait (bounded) until what must have happened has happened ──
  await sleep(Math.max(0, officeAt + 2_000 - Date.now()));
  await stack.waitApiReady();
  const client = await stack.client();
  const wfIds = assignments.map((a) => workPointWorkflowId(year, a.wp));
  const query = async (id: string): Promise<WorkPointStatus | undefined> => {
    try {
      return await client.workflow.getHandle(id).query(statusQuery);
    } catch {
      return undefined;
    }
  };
  const acceptedIds = new Set(departments.flatMap((d) => [...d.accepted]));
  const neverIds = departments.filter((d) => d.behaviour === 'never').map((d) => d);
  const settleDeadline = Date.now() + o.settleS * 1000;
  let settled = false;
  let waitingFor = '';
  while (Date.now() < settleDeadline) {
    const reports = await stack.pool.query<{ submission_id: string }>(
      'SELECT submission_id FROM reports WHERE cycle_year = $1',
      [year],
    );
    const stored = new Set(reports.rows.map((r) => r.submission_id));
    const missing = [...acceptedIds].filter((id) => !stored.has(id));
    const offices = await stack.pool.query<{ n: number }>(
      "SELECT count(DISTINCT idempotency_key)::int AS n FROM outbox WHERE cycle_year = $1 AND kind = 'escalation-office'",
      [year],
    );
    const pending = await stack.pool.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM outbox WHERE cycle_year = $1 AND status = 'pending'",
      [year],
    );
    const statuses = await Promise.all(wfIds.map(query));
    waitingFor = [
      missing.length > 0 ? `${missing.length} accepted reports not yet in PostgreSQL` : '',
      (offices.rows[0]?.n ?? 0) < neverIds.length
        ? `office escalations ${offices.rows[0]?.n ?? 0} / ${neverIds.length}+`
        : '',
      (pending.rows[0]?.n ?? 0) > 0 ? `${pending.rows[0]?.n ?? 0} notices not yet delivered` : '',
      statuses.some((s) => s === undefined) ? 'a work point does not answer queries' : '',
    ]
      .filter(Boolean)
      .join('; ');
    if (!waitingFor) {
      settled = true;
      break;
    }
    await sleep(1_000);
  }
  if (!settled) log(`did not settle within ${o.settleS} s: ${waitingFor}`);

  // ── verify ──
  const violations: string[] = [];
  const notes: string[] = [];
  const lost: string[] = [];
  const duplicated: string[] = [];

  const { rows: reportRows } = await stack.pool.query<{
    submission_id: string;
    work_point: number;
    unit_id: string;
    late: boolean;
    submitted_at: Date;
  }>('SELECT submission_id, work_point, unit_id, late, submitted_at FROM reports WHERE cycle_year = $1', [year]);
  const bySubmission = new Map<string, typeof reportRows>();
  for (const r of reportRows) bySubmission.set(r.submission_id, [...(bySubmission.get(r.submission_id) ?? []), r]);
  for (const [id, rows] of bySubmission) if (rows.length > 1) duplicated.push(`${id}: ${rows.length} rows in reports`);
  const attemptedIds = new Set(departments.flatMap((d) => [...d.attempted]));
  for (const id of bySubmission.keys())
    if (!attemptedIds.has(id)) violations.push(`report ${id} in PostgreSQL was never submitted`);

  const statuses = new Map<number, WorkPointStatus | undefined>();
  for (const a of assignments) statuses.set(a.wp, await query(workPointWorkflowId(year, a.wp)));
  for (const d of departments) {
    const stored = reportRows.filter((r) => r.work_point === d.wp && r.unit_id === d.unitId);
    const storedIds = new Set(stored.map((r) => r.submission_id));
    for (const id of d.accepted)
      if (!storedIds.has(id)) lost.push(`${id} (第${d.wp}条 ${d.unitName}): answered 已收到, not in reports`);
    for (const id of storedIds)
      if (!d.attempted.has(id))
        violations.push(`report ${id} stored for 第${d.wp}条 ${d.unitName}, which never sent it`);
    for (const r of stored) {
      if (r.late !== r.submitted_at.getTime() > dueAt)
        violations.push(
          `report ${r.submission_id}: late=${r.late} but submitted ${rel(r.submitted_at.getTime())} s (due +${o.dueS} s)`,
        );
    }
    const st = statuses.get(d.wp);
    const ob = st?.obligations.find((x) => x.unitId === d.unitId && x.periodId === 'P1');
    if (!st || !ob) {
      violations.push(`第${d.wp}条 ${d.unitName}: no obligation in the workflow's status`);
      continue;
    }
    if (ob.submissions > storedIds.size)
      duplicated.push(
        `第${d.wp}条 ${d.unitName}: workflow counts ${ob.submissions} submissions, ${storedIds.size} distinct stored`,
      );
    if (ob.submissions < d.accepted.size)
      lost.push(
        `第${d.wp}条 ${d.unitName}: workflow counts ${ob.submissions} submissions, ${d.accepted.size} answered 已收到`,
      );
  }

  // Notices: once each, and the escalations the schedule implies.
  const { rows: notices } = await stack.pool.query<{
    idempotency_key: string;
    workflow_id: string;
    unit_id: string;
    kind: string;
    period: string | null;
    scheduled_for: Date;
    channel: string;
    address: string;
    status: string;
    last_error: string | null;
  }>(
    `SELECT idempotency_key, workflow_id, unit_id, kind, period, scheduled_for, channel, address, status, last_error
     FROM outbox WHERE cycle_year = $1`,
    [year],
  );
  /** The unit an escalation is about: the key is <workflow>:<milestone>:<period>:<unit>:r<round>:<due>:to:<recipient>. */
  const about = (key: string): string => /:(?:lead|office):[^:]+:([^:]+):r\d+:/.exec(key)?.[1] ?? '';
  const seenKeys = new Map<string, number>();
  const seenEvents = new Map<string, number>();
  for (const n of notices) {
    seenKeys.set(n.idempotency_key, (seenKeys.get(n.idempotency_key) ?? 0) + 1);
    const event = [
      n.workflow_id,
      n.unit_id,
      n.kind,
      n.period ?? '',
      n.scheduled_for.getTime(),
      n.channel,
      n.address,
      about(n.idempotency_key),
    ].join('|');
    seenEvents.set(event, (seenEvents.get(event) ?? 0) + 1);
  }
  for (const [key, count] of seenKeys) if (count > 1) violations.push(`notice key ${key} recorded ${count} times`);
  for (const [event, count] of seenEvents)
    if (count > 1) violations.push(`notice ${event} recorded ${count} times under different keys`);

  const leadIds = (wp: number) =>
    (assignments.find((a) => a.wp === wp)?.leads ?? []).map(
      (name) => DEMO_UNIT_DIRECTORY.units.find((u) => u.name === name)?.id ?? name,
    );
  const officeId = DEMO_UNIT_DIRECTORY.units.find((u) => u.name === OFFICE_NAME)?.id ?? '';
  const count = (wfId: string, kind: string, to: string, aboutUnit?: string) =>
    notices.filter(
      (n) =>
        n.workflow_id === wfId &&
        n.kind === kind &&
        n.unit_id === to &&
        (aboutUnit === undefined || about(n.idempotency_key) === aboutUnit),
    ).length;
  let checkedNever = 0;
  let checkedOnTime = 0;
  for (const d of departments) {
    const wfId = workPointWorkflowId(year, d.wp);
    if (count(wfId, 'assignment', d.unitId) !== 1)
      violations.push(
        `第${d.wp}条 ${d.unitName}: ${count(wfId, 'assignment', d.unitId)} assignment notices, expected 1`,
      );
    const reportedBeforeDue = d.firstAcceptedAt !== undefined && d.firstAcceptedAt < dueAt;
    const storedAny = reportRows.some((r) => r.work_point === d.wp && r.unit_id === d.unitId);
    if (d.behaviour === 'never' && !storedAny) {
      checkedNever += 1;
      const expect = (kind: string, to: string, n: number, aboutUnit?: string) => {
        const got = count(wfId, kind, to, aboutUnit);
        if (got !== n)
          violations.push(`第${d.wp}条 ${d.unitName} never reported: ${got} × ${kind} to ${to}, expected ${n}`);
      };
      expect('reminder', d.unitId, 1);
      expect('overdue', d.unitId, 1);
      for (const lead of leadIds(d.wp)) expect('escalation-lead', lead, 1, d.unitId);
      expect('escalation-office', officeId, 1, d.unitId);
    } else if (reportedBeforeDue) {
      checkedOnTime += 1;
      for (const kind of ['overdue', 'escalation-lead', 'escalation-office']) {
        const got = notices.filter(
          (n) =>
            n.workflow_id === wfId &&
            n.kind === kind &&
            (kind === 'overdue' ? n.unit_id === d.unitId : about(n.idempotency_key) === d.unitId),
        ).length;
        if (got > 0)
          violations.push(
            `第${d.wp}条 ${d.unitName} reported at +${rel(d.firstAcceptedAt ?? 0)} s (before due): ${got} × ${kind}`,
          );
      }
    } else {
      // Late or uncertain: which milestones fire depends on when the workflow saw the report; only the order is fixed.
      const has = (kind: string) =>
        notices.some(
          (n) =>
            n.workflow_id === wfId &&
            n.kind === kind &&
            (kind === 'overdue' ? n.unit_id === d.unitId : about(n.idempotency_key) === d.unitId),
        );
      if (has('escalation-office') && !has('escalation-lead'))
        violations.push(`第${d.wp}条 ${d.unitName}: office escalation without lead escalation`);
      if (has('escalation-lead') && !has('overdue'))
        violations.push(`第${d.wp}条 ${d.unitName}: lead escalation without overdue notice`);
    }
  }

  // Delivery: the dispatcher sends every row; a row claimed by a worker that was killed mid-send is settled as
  // "outcome unknown" and not resent (activities/delivery.ts chooses at most once for that window).
  const delivered = notices.filter((n) => n.status === 'sent').length;
  const unknown = notices.filter(
    (n) => n.status === 'sending' || (n.status === 'failed' && n.last_error === OUTCOME_UNKNOWN),
  );
  const undelivered = notices.filter((n) => n.status !== 'sent' && !unknown.includes(n));
  for (const n of undelivered)
    violations.push(
      `notice ${n.idempotency_key} not delivered (${n.status}${n.last_error ? `: ${n.last_error.slice(0, 120)}` : ''})`,
    );
  if (unknown.length > 0)
    notes.push(
      `${unknown.length} notice(s) claimed by a killed worker mid-send: outcome unknown, not resent (at-most-once by design)`,
    );

  // Workflows: none failed or terminated.
  for (const id of [...wfIds, cycleWorkflowId(year), DISPATCHER_WORKFLOW_ID]) {
    try {
      const desc = await client.workflow.getHandle(id).describe();
      if (['FAILED', 'TERMINATED', 'TIMED_OUT', 'CANCELLED'].includes(desc.status.name))
        violations.push(`workflow ${id} is ${desc.status.name}`);
    } catch (err) {
      violations.push(`workflow ${id}: ${err instanceof WorkflowNotFoundError ? 'not found' : String(err)}`);
    }
  }
  let taskFailures = 0;
  for (const id of wfIds) {
    const history = await client.workflow.getHandle(id).fetchHistory();
    taskFailures += (history.events ?? []).filter(
      (e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED,
    ).length;
  }
  if (taskFailures > 0)
    notes.push(`${taskFailures} workflow task failure(s) in the work points' histories (retried by Temporal)`);
  const unanswered = departments.filter((d) => d.behaviour !== 'never' && d.accepted.size === 0);
  if (unanswered.length > 0)
    notes.push(
      `${unanswered.length} department(s) never got 已收到 before giving up (not a loss: nothing was promised)`,
    );
  for (const e of stack.unexpectedExits)
    notes.push(`${e.part} exited on its own at +${rel(e.at)} s (${e.exit}) and was restarted`);
  if (!settled) violations.push(`the system did not settle within ${o.settleS} s: ${waitingFor}`);

  const allViolations = [...violations, ...lost.map((l) => `lost: ${l}`), ...duplicated.map((d) => `duplicated: ${d}`)];
  Object.assign(stats, {
    departments: departments.length,
    onTime: departments.filter((d) => d.behaviour === 'on-time').length,
    late: departments.filter((d) => d.behaviour === 'late').length,
    never: departments.filter((d) => d.behaviour === 'never').length,
    checkedNever,
    checkedOnTime,
    notices: notices.length,
    delivered,
    deliveryUnknown: unknown.length,
    storedReports: reportRows.length,
  });
  return {
    faults,
    reports: acceptedIds.size,
    lost,
    duplicated,
    violations: allViolations,
    notes,
    stats,
    line: `chaos: ${faults.length} faults, ${acceptedIds.size} reports, lost ${lost.length}, duplicated ${duplicated.length}`,
  };
}
