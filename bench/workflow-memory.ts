import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { WorkerStatus } from '@temporalio/worker';
import { PROJECT_ROOT, resolveBinary } from '../launcher/binaries';
import { killAllChildrenSync, spawnChild, stopChild, type ManagedChild } from '../launcher/children';
import { spawnTemporalDevServer, waitForDevServer } from '../launcher/temporal-dev-server';
import { freePort } from '../launcher/ports';
import { migrate } from '../db/migrate';
import { createPool } from '../db/pool';
import { importDirectory } from '../db/units-repo';
import { countAssignmentNotices, createScratchDatabase, dropScratchDatabase } from '../db/bench-queries';
import type { WorkPointInput } from '../domain/model';
import { UnitDirectorySchema } from '../domain/units';
import { DEMO_UNIT_DIRECTORY } from '../domain/demo-directory';
import { workPointWorkflowId } from '../workflows/shared';
import { loadAverage, procSample, runPool, until } from './measure';
import type { MemoryVariant } from './memory-worker';
import { DEFAULT_ADMIN_DATABASE_URL } from './stack';
import { syntheticUnits } from './synthetic';

/**
 * What one cached workflow costs the worker, in RSS and CPU: `npx tsx bench/workflow-memory.ts` (MEMORY_K workflows
 * per variant, default 500). Each variant runs in a fresh worker process with its own bundle: an idle workflow
 * (bench/memory-idle-workflow.ts), the same after one local activity (bench/memory-local-activity-workflow.ts), and
 * duban's workPoint on duban's worker (worker/create-worker.ts, its activities writing to a real database). It checks
 * that every workflow is open, got through its first task without a failure and sits in the cache
 * (worker.getStatus().numCachedWorkflows), then divides the RSS and CPU grown by K. Writes
 * bench/results/memory-<date>.json.
 */

const K = Number(process.env.MEMORY_K ?? 500);
const UNITS = Number(process.env.MEMORY_UNITS ?? 20);
const ADMIN_URL = process.env.MEMORY_ADMIN_DATABASE_URL ?? DEFAULT_ADMIN_DATABASE_URL;
const OUT = process.env.MEMORY_OUT ?? path.join(PROJECT_ROOT, 'bench', 'results');
const YEAR = 2099;
const DAY = 86_400_000;

const log = (msg: string): void => {
  process.stdout.write(`[memory] ${msg}\n`);
};

interface Variant {
  name: MemoryVariant;
  label: string;
  workflowType: string;
  args: (i: number) => unknown[];
}

function workPointInput(i: number): WorkPointInput {
  const now = Date.now();
  const due = now + 30 * DAY;
  const units = syntheticUnits(UNITS, 'mem').map((u) => ({ id: u.id, name: u.name }));
  return {
    cycleYear: YEAR,
    planId: 0,
    number: i + 1,
    section: '一',
    title: `内存测试要点${i + 1}`,
    leadUnits: units.slice(0, 1),
    responsibleUnits: units,
    office: { id: 'office', name: '园区依法治区办' },
    schedule: {
      periods: [
        {
          id: 'P1',
          label: '测试',
          opensAt: now,
          dueAt: due,
          reminderAt: due - 3 * DAY,
          overdueNoticeAt: due,
          leadEscalationAt: due + 3 * DAY,
          officeEscalationAt: due + 5 * DAY,
        },
      ],
      review: {
        requestAt: due + DAY,
        summaryReminderAt: due + 5 * DAY,
        summaryDueAt: due + 10 * DAY,
        officeEscalationAt: due + 15 * DAY,
        ratingDueAt: due + 20 * DAY,
      },
    },
  };
}

const VARIANTS: Variant[] = [
  { name: 'idle', label: 'idle workflow, no imports', workflowType: 'idle', args: () => [] },
  {
    name: 'local-activity',
    label: 'idle workflow after one local activity',
    workflowType: 'idleAfterLocalActivity',
    args: () => [],
  },
  {
    name: 'work-point',
    label: `duban workPoint, ${UNITS} units, notices persisted`,
    workflowType: 'workPoint',
    args: (i) => [workPointInput(i)],
  },
];

async function polling(client: Client, taskQueue: string, pid: number): Promise<void> {
  await until(
    `worker ${pid} polling ${taskQueue}`,
    async () => {
      const res = await client.workflowService.describeTaskQueue({
        namespace: 'default',
        taskQueue: { name: taskQueue },
        taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
      });
      return (res.pollers ?? []).some((p) => p.identity?.startsWith(`${pid}@`)) ? true : undefined;
    },
    120_000,
    200,
  );
}

/** Waits until the process has used (almost) no CPU for `quietMs`: its backlog is done. */
async function quiet(pid: number, quietMs = 3_000, timeoutMs = 300_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let since = Date.now();
  let last = procSample(pid)?.cpuSeconds ?? 0;
  while (Date.now() < deadline) {
    await sleep(500);
    const now = procSample(pid)?.cpuSeconds ?? 0;
    if (now - last > 0.05) since = Date.now();
    last = now;
    if (Date.now() - since >= quietMs) return;
  }
}

function readStatus(file: string): WorkerStatus | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as WorkerStatus;
  } catch {
    return undefined; // not written yet, or caught mid-write
  }
}

interface Checked {
  running: number;
  throughFirstTask: number;
  failedTasks: number;
}

/** Every workflow open, through its first task, and no workflow task failed or timed out (histories). */
async function checkHistories(client: Client, ids: string[]): Promise<Checked> {
  const T = temporal.api.enums.v1.EventType;
  const checked: Checked = { running: 0, throughFirstTask: 0, failedTasks: 0 };
  await runPool(ids, 16, async (id) => {
    const handle = client.workflow.getHandle(id);
    const [description, history] = await Promise.all([handle.describe(), handle.fetchHistory()]);
    const events = history.events ?? [];
    if (description.status.name === 'RUNNING') checked.running += 1;
    if (events.some((e) => e.eventType === T.EVENT_TYPE_WORKFLOW_TASK_COMPLETED)) checked.throughFirstTask += 1;
    checked.failedTasks += events.filter(
      (e) => e.eventType === T.EVENT_TYPE_WORKFLOW_TASK_FAILED || e.eventType === T.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT,
    ).length;
  });
  return checked;
}

interface Row {
  variant: MemoryVariant;
  label: string;
  k: number;
  rssIdleMb: number;
  rssCachedMb: number;
  mbPerWorkflow: number;
  cpuMsPerWorkflow: number;
  cached: number;
  running: number;
  throughFirstTask: number;
  failedTasks: number;
  /** work-point only: assignment notices in the outbox (K × units expected). */
  notices?: number;
  loadAverage: number;
}

async function measure(
  client: Client,
  dir: string,
  variant: Variant,
  env: Record<string, string>,
  pool: ReturnType<typeof createPool>,
): Promise<Row> {
  const taskQueue = `memory-${variant.name}`;
  const statusFile = path.join(dir, `status-${variant.name}.json`);
  const fd = openSync(path.join(dir, `worker-${variant.name}.log`), 'a');
  let worker: ManagedChild;
  try {
    worker = await spawnChild(
      `memory-worker-${variant.name}`,
      process.execPath,
      ['--import', 'tsx', 'bench/memory-worker.ts'],
      {
        cwd: PROJECT_ROOT,
        env: {
          ...process.env,
          ...env,
          MEMORY_VARIANT: variant.name,
          MEMORY_TASK_QUEUE: taskQueue,
          MEMORY_STATUS_FILE: statusFile,
          WORKER_MAX_CACHED_WORKFLOWS: String(K + 10),
        },
        output: { fd },
      },
    );
  } finally {
    closeSync(fd);
  }
  try {
    await polling(client, taskQueue, worker.pid);
    await quiet(worker.pid);
    const before = procSample(worker.pid);
    const ids = Array.from({ length: K }, (_, i) =>
      variant.name === 'work-point' ? workPointWorkflowId(YEAR, i + 1) : `memory-${variant.name}-${i + 1}`,
    );
    await runPool(ids, 16, async (id) => {
      await client.workflow.start(variant.workflowType, {
        workflowId: id,
        taskQueue,
        args: variant.args(ids.indexOf(id)),
      });
    });
    const status = await until(
      `${K} workflows in the cache of the ${variant.name} worker`,
      async () => {
        const s = readStatus(statusFile);
        return s && s.numCachedWorkflows >= K && s.numInFlightWorkflowActivations === 0 ? s : undefined;
      },
      600_000,
      250,
    );
    await quiet(worker.pid);
    const after = procSample(worker.pid);
    const checked = await checkHistories(client, ids);
    const notices = variant.name === 'work-point' ? await countAssignmentNotices(pool, YEAR) : undefined;
    const rssIdleMb = before?.rssMb ?? 0;
    const rssCachedMb = after?.rssMb ?? 0;
    return {
      variant: variant.name,
      label: variant.label,
      k: K,
      rssIdleMb,
      rssCachedMb,
      mbPerWorkflow: Math.round(((rssCachedMb - rssIdleMb) / K) * 1000) / 1000,
      cpuMsPerWorkflow: Math.round((((after?.cpuSeconds ?? 0) - (before?.cpuSeconds ?? 0)) * 1e4) / K) / 10,
      cached: readStatus(statusFile)?.numCachedWorkflows ?? status.numCachedWorkflows,
      ...checked,
      ...(notices !== undefined ? { notices } : {}),
      loadAverage: loadAverage(),
    };
  } finally {
    await stopChild(worker, 'SIGTERM', 10_000, () => undefined);
  }
}

async function main(): Promise<void> {
  const startedAt = new Date();
  const id = `${Date.now()}_${randomBytes(2).toString('hex')}`;
  const dir = path.join(PROJECT_ROOT, '.data', `memory-${id}`);
  mkdirSync(dir, { recursive: true });
  const databaseName = `duban_memory_${id}`;
  const url = new URL(ADMIN_URL);
  url.pathname = `/${databaseName}`;
  const databaseUrl = url.toString();
  const port = await freePort();
  const logFile = path.join(dir, 'temporal.log');
  log(`K=${K} workflows per variant; load average ${loadAverage()}`);
  const server = await spawnTemporalDevServer({
    binary: resolveBinary('temporal', { install: true, log }),
    dbFile: path.join(dir, 'temporal.db'),
    logFile,
    port,
    uiPort: await freePort(),
    namespace: 'default',
    cwd: dir,
  });
  const address = `127.0.0.1:${port}`;
  await createScratchDatabase(ADMIN_URL, databaseName);
  const pool = createPool(databaseUrl, { max: 2, application_name: 'duban-memory-harness' });
  const rows: Row[] = [];
  try {
    await migrate(databaseUrl);
    await importDirectory(
      pool,
      UnitDirectorySchema.parse({
        ...DEMO_UNIT_DIRECTORY,
        units: [...DEMO_UNIT_DIRECTORY.units, ...syntheticUnits(UNITS, 'mem')],
      }),
    );
    await waitForDevServer(server, address, 'default', logFile, 60_000);
    const client = new Client({ connection: await Connection.connect({ address }) });
    const env = {
      TEMPORAL_ADDRESS: address,
      DATABASE_URL: databaseUrl,
      LINK_SECRET: randomBytes(32).toString('hex'),
      LOG_LEVEL: 'warn',
    };
    for (const variant of VARIANTS) {
      const row = await measure(client, dir, variant, env, pool);
      rows.push(row);
      log(
        `${row.label.padEnd(44)} RSS ${String(row.rssIdleMb).padStart(6)} → ${String(row.rssCachedMb).padStart(6)} MB: ` +
          `${row.mbPerWorkflow.toFixed(2)} MB and ${row.cpuMsPerWorkflow} ms CPU per workflow; cached ${row.cached}/${K}, ` +
          `running ${row.running}, through first task ${row.throughFirstTask}, failed tasks ${row.failedTasks}` +
          (row.notices !== undefined ? `, notices ${row.notices}/${K * UNITS}` : ''),
      );
      if (row.cached < K || row.running < K || row.throughFirstTask < K || row.failedTasks > 0)
        throw new Error(`${variant.name}: not every workflow is open, through its first task and cached`);
    }
    await client.connection.close();
    mkdirSync(OUT, { recursive: true });
    const file = path.join(OUT, `memory-${startedAt.toISOString().replace(/:/g, '-').replace(/\..*$/, '')}.json`);
    writeFileSync(
      file,
      `${JSON.stringify({ startedAt: startedAt.toISOString(), cpus: os.cpus().length, k: K, units: UNITS, rows }, null, 2)}\n`,
    );
    log(`wrote ${path.relative(PROJECT_ROOT, file)}`);
  } finally {
    await pool.end().catch(() => undefined);
    await stopChild(server, 'SIGTERM', 10_000, () => undefined);
    await dropScratchDatabase(ADMIN_URL, databaseName).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`workflow-memory: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  killAllChildrenSync();
  process.exit(1);
});
