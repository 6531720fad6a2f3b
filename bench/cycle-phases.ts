import { performance } from 'node:perf_hooks';
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { prepareCycleData } from '../services/cycle-preparation';
import { cycleWorkflowId, workPointWorkflowId } from '../workflows/shared';
import { runPool, until, type HttpClient } from './measure';
import { Stack } from './stack';
import { farOptions, log, rate } from './config';
import { countAssignmentNotices, noticesPerUnit, reportsPerWorkPoint } from '../db/bench-queries';
/** duban's side of the benchmark: launching a cycle through the API, and what its histories look like afterwards. */

export async function apiJson(
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

export async function countAssignments(stack: Stack, year: number): Promise<number> {
  return countAssignmentNotices(stack.pool, year);
}

/** How many assignment rows a cycle writes: one per responsible unit and contact (a unit without contacts: one). */
export async function expectedAssignments(
  stack: Stack,
  year: number,
  planId: number,
  options: unknown,
): Promise<number> {
  const prepared = await prepareCycleData(stack.pool, year, planId, options);
  if (prepared.kind !== 'ok') throw new Error(`cycle ${year} cannot be prepared: ${prepared.kind}`);
  const contacts = await noticesPerUnit(stack.pool);
  return prepared.workPoints.reduce(
    (sum, wp) =>
      sum + wp.responsibleUnits.reduce((s, u) => s + (contacts.get(u.id) ?? 1), 0) * wp.schedule.periods.length,
    0,
  );
}

export interface LaunchResult {
  workPoints: number;
  notices: number;
  acceptedMs: number;
  allNoticesMs: number;
  workPointsPerSecond: number;
  noticesPerSecond: number;
  /**
   * From the request to the last work point's WorkflowExecutionStarted (visibility): durably started, whatever
   * starts them (the cycle's children, or an activity with the client).
   */
  startedSeconds: number;
  startedPerSecond: number;
  progress: { ms: number; notices: number }[];
}

/** The start times the server recorded (WorkflowExecutionStarted, through visibility) of the workflows a query finds. */
export async function startTimes(client: Client, query: string, expected: number): Promise<number[]> {
  await until(
    `${expected} workflows in visibility (${query})`,
    async () => ((await client.workflow.count(query)).count >= expected ? true : undefined),
    120_000,
    100,
  );
  const times: number[] = [];
  for await (const w of client.workflow.list({ query })) times.push(w.startTime.getTime());
  return times;
}

export async function launchCycle(
  stack: Stack,
  http: HttpClient,
  token: string,
  year: number,
  planId: number,
  timeoutMs: number,
): Promise<LaunchResult> {
  const options = farOptions(Date.now());
  const expected = await expectedAssignments(stack, year, planId, options);
  const postedAt = Date.now();
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
  const started = await startTimes(await stack.client(), `WorkflowId STARTS_WITH 'wp-${year}-'`, workPoints);
  const startedMs = Math.max(...started) - postedAt;
  return {
    workPoints,
    notices: expected,
    acceptedMs: Math.round(acceptedMs),
    allNoticesMs: Math.round(allNoticesMs),
    workPointsPerSecond: rate(workPoints, allNoticesMs),
    noticesPerSecond: rate(expected, allNoticesMs),
    startedSeconds: Math.round(startedMs / 10) / 100,
    startedPerSecond: rate(workPoints, startedMs),
    progress: progress.filter((_, i) => i % 10 === 0),
  };
}

export interface HistoryFigures {
  workPoints: number[];
  cycle: number;
  /** Per sampled work point: history events beyond the first one's launch, per report it received. */
  eventsPerReport: number[];
  /** Event types of the first sampled work point's history. */
  eventTypes: Record<string, number>;
  /**
   * From the cycle's first child start command to its last child's start confirmation, as the server recorded them;
   * none when the work points are not the cycle's children.
   */
  childStarts: { children: number; seconds: number | null; perSecond: number | null };
}

export async function historyFigures(
  stack: Stack,
  client: Client,
  year: number,
  numbers: number[],
): Promise<HistoryFigures> {
  const lengths = new Map<number, number>();
  await runPool(numbers, 8, async (n) => {
    const d = await client.workflow.getHandle(workPointWorkflowId(year, n)).describe();
    lengths.set(n, d.historyLength);
  });
  const reports = await reportsPerWorkPoint(stack.pool, year, numbers);
  const first = numbers[0] ?? 1;
  const history = await client.workflow.getHandle(workPointWorkflowId(year, first)).fetchHistory();
  const eventTypes: Record<string, number> = {};
  let launchEvents = 0;
  for (const e of history.events ?? []) {
    const name = (temporal.api.enums.v1.EventType[e.eventType ?? 0] ?? String(e.eventType)).replace('EVENT_TYPE_', '');
    eventTypes[name] = (eventTypes[name] ?? 0) + 1;
    // Everything before the first report (an Update, or a signal in older paths) is the launch.
    if (
      launchEvents === 0 &&
      (name === 'WORKFLOW_EXECUTION_UPDATE_ACCEPTED' ||
        name === 'WORKFLOW_EXECUTION_UPDATE_ADMITTED' ||
        name === 'WORKFLOW_EXECUTION_SIGNALED')
    )
      launchEvents = Number(e.eventId ?? 1) - 1;
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
    childStarts:
      started.length > 0 && seconds > 0
        ? {
            children: started.length,
            seconds: Math.round(seconds * 10) / 10,
            perSecond: Math.round((started.length / seconds) * 10) / 10,
          }
        : { children: 0, seconds: null, perSecond: null },
  };
}
