import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { DEMO_UNIT_DIRECTORY } from '../domain/demo-directory';
import { submitReportUpdate, reportSignal, workPointWorkflowId } from '../workflows/shared';
import { percentiles, runPool, until } from './measure';
import { Stack } from './stack';
import { instantCycleOptions, syntheticPlan, syntheticUnits } from './synthetic';
import { countAssignmentNotices, countReports } from '../db/bench-queries';

/**
 * What the verdict costs: the same reports sent to the same work points (a) as signals, the path before the Update
 * (the API answered once the server took the signal; the report reached PostgreSQL later), and (b) as Updates, the
 * path now (the answer comes once the workflow accepted the report and stored it). Both on one isolated stack, one
 * after the other, at the same concurrency, straight from a Temporal client (no HTTP, so the difference is the
 * primitive's). `npx tsx bench/update-vs-signal.ts`; UVS_WP × UVS_UNITS obligations (default 100 × 20), half each way.
 */

const WP = Number(process.env.UVS_WP ?? 100);
const UNITS = Number(process.env.UVS_UNITS ?? 20);
const CONCURRENCY = Number(process.env.UVS_CONCURRENCY ?? 16);
const YEAR = 2031;
const DAY = 86_400_000;

const log = (msg: string) => process.stdout.write(`[uvs] ${msg}\n`);
const rate = (n: number, ms: number) => Math.round((n / (ms / 1000)) * 10) / 10;

async function main(): Promise<void> {
  const stack = await Stack.start({ name: 'uvs', log });
  try {
    const token = await stack.adminToken();
    const api = async (method: string, path: string, body: unknown) => {
      const res = await fetch(`${stack.apiUrl}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
      return (await res.json()) as Record<string, unknown>;
    };
    const units = syntheticUnits(UNITS);
    await api('PUT', '/api/units', {
      units: [...DEMO_UNIT_DIRECTORY.units, ...units],
      groupSelections: DEMO_UNIT_DIRECTORY.groupSelections,
    });
    const plan = syntheticPlan(
      YEAR,
      WP,
      units.map((u) => u.name),
      [units[0]?.name ?? ''],
    );
    const { id: planId } = (await api('POST', '/api/plans', { plan })) as { id: number };
    const now = Date.now();
    const options = instantCycleOptions({
      opensAt: now,
      dueAt: now + 30 * DAY,
      reminderBeforeS: 3 * 86_400,
      leadAfterS: 3 * 86_400,
      officeAfterS: 5 * 86_400,
    });
    await api('POST', '/api/cycles', { year: YEAR, planId, options });
    const expected = WP * UNITS;
    await until(
      `${expected} assignment notices`,
      async () => {
        return (await countAssignmentNotices(stack.pool, YEAR)) >= expected ? true : undefined;
      },
      600_000,
      200,
    );
    log(`cycle ${YEAR}: ${WP} work points × ${UNITS} units open`);
    await new Promise((resolve) => setTimeout(resolve, 5_000));

    const client = await stack.client();
    const jobs = Array.from({ length: WP }, (_, w) => units.map((u) => ({ wp: w + 1, unitId: u.id }))).flat();
    // Interleaved halves, so both paths hit every work point alike.
    const halves = [jobs.filter((_, i) => i % 2 === 0), jobs.filter((_, i) => i % 2 === 1)] as const;
    const payload = (j: { wp: number; unitId: string }) => ({
      unitId: j.unitId,
      periodId: 'P1',
      submissionId: randomUUID(),
      text: `第${j.wp}条进展`,
      attachments: [],
      submittedAt: Date.now(),
    });
    const stored = () => countReports(stack.pool, YEAR);

    // (a) signals
    const signalLatency: number[] = [];
    const s0 = performance.now();
    await runPool(halves[0], CONCURRENCY, async (j) => {
      const t = performance.now();
      await client.workflow.getHandle(workPointWorkflowId(YEAR, j.wp)).signal(reportSignal, payload(j));
      signalLatency.push(performance.now() - t);
    });
    const signalAnsweredMs = performance.now() - s0;
    await until(
      'signalled reports in PostgreSQL',
      async () => ((await stored()) >= halves[0].length ? true : undefined),
      600_000,
      50,
    );
    const signalStoredMs = performance.now() - s0;

    // (b) updates
    const updateLatency: number[] = [];
    const u0 = performance.now();
    await runPool(halves[1], CONCURRENCY, async (j) => {
      const t = performance.now();
      await client.workflow
        .getHandle(workPointWorkflowId(YEAR, j.wp))
        .executeUpdate(submitReportUpdate, { args: [payload(j)] });
      updateLatency.push(performance.now() - t);
    });
    const updateStoredMs = performance.now() - u0;
    const total = await stored();
    if (total !== jobs.length) throw new Error(`expected ${jobs.length} reports stored, found ${total}`);

    const sp = percentiles(signalLatency);
    const up = percentiles(updateLatency);
    const rows = [
      ['', 'signal (before)', 'update (now)', 'update / signal'],
      [
        'answered, /s',
        String(rate(halves[0].length, signalAnsweredMs)),
        String(rate(halves[1].length, updateStoredMs)),
        (rate(halves[1].length, updateStoredMs) / rate(halves[0].length, signalAnsweredMs)).toFixed(2),
      ],
      [
        'stored in PostgreSQL, /s',
        String(rate(halves[0].length, signalStoredMs)),
        String(rate(halves[1].length, updateStoredMs)),
        (rate(halves[1].length, updateStoredMs) / rate(halves[0].length, signalStoredMs)).toFixed(2),
      ],
      ['answer latency p50, ms', String(sp.p50), String(up.p50), (up.p50 / sp.p50).toFixed(2)],
      ['answer latency p99, ms', String(sp.p99), String(up.p99), (up.p99 / sp.p99).toFixed(2)],
      ['what the answer means', 'server took the signal', 'workflow accepted, report stored', ''],
    ];
    const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
    log(`${halves[0].length} reports each way at concurrency ${CONCURRENCY}:`);
    for (const r of rows) process.stdout.write(`${r.map((cell, c) => cell.padEnd(widths[c] ?? 0)).join('  ')}\n`);
  } finally {
    await stack.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`update-vs-signal: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
