import { closeSync, mkdirSync, openSync, rmSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { PROJECT_ROOT, resolveBinary } from '../launcher/binaries';
import { killAllChildrenSync, spawnChild, stopChild, type ManagedChild } from '../launcher/children';
import { spawnTemporalDevServer, waitForDevServer } from '../launcher/temporal-dev-server';
import { WORKFLOWS_PATH } from '../worker/create-worker';
import type { WorkPointInput } from '../domain/model';
import { freePort } from '../launcher/ports';
import { procSample, runPool, until } from './measure';

/**
 * What one cached workflow costs the worker in RSS: `npx tsx bench/workflow-memory.ts` (MEMORY_K workflows per
 * variant, default 500). Each variant gets a fresh worker process with no activities, so every workflow stays
 * open and cached after its first task; RSS before and after, divided by K, is the cost of one.
 */

const K = Number(process.env.MEMORY_K ?? 500);
const UNITS = Number(process.env.MEMORY_UNITS ?? 20);
const DAY = 86_400_000;

interface Variant {
  name: string;
  workflowsPath: string;
  workflowType: string;
  args: (i: number) => unknown[];
}

function workPointInput(i: number): WorkPointInput {
  const now = Date.now();
  const due = now + 30 * DAY;
  const units = Array.from({ length: UNITS }, (_, j) => ({ id: `mem-unit-${j}`, name: `内存测试单位${j}` }));
  return {
    cycleYear: 2099,
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
  {
    name: 'idle workflow, no imports',
    workflowsPath: require.resolve('./memory-workflows'),
    workflowType: 'idle',
    args: () => [],
  },
  {
    name: 'idle workflow importing domain/schedule (zod, calendar)',
    workflowsPath: require.resolve('./memory-workflows'),
    workflowType: 'idleWithSchedule',
    args: () => [],
  },
  {
    name: `duban workPoint, ${UNITS} units, waiting on notify`,
    workflowsPath: WORKFLOWS_PATH,
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

async function main(): Promise<void> {
  const dir = path.join(PROJECT_ROOT, '.data', `memory-${Date.now()}`);
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const logFile = path.join(dir, 'temporal.log');
  const server = await spawnTemporalDevServer({
    binary: resolveBinary('temporal', { install: false }),
    dbFile: path.join(dir, 'temporal.db'),
    logFile,
    port,
    uiPort: await freePort(),
    namespace: 'default',
    cwd: dir,
  });
  const address = `127.0.0.1:${port}`;
  const rows: string[] = [];
  try {
    await waitForDevServer(server, address, 'default', logFile, 60_000);
    const client = new Client({ connection: await Connection.connect({ address }) });
    for (const [v, variant] of VARIANTS.entries()) {
      const taskQueue = `memory-${v}`;
      const fd = openSync(path.join(dir, `worker-${v}.log`), 'a');
      let worker: ManagedChild;
      try {
        worker = await spawnChild(
          `memory-worker-${v}`,
          process.execPath,
          ['--import', 'tsx', 'bench/memory-worker.ts'],
          {
            cwd: PROJECT_ROOT,
            env: {
              ...process.env,
              TEMPORAL_ADDRESS: address,
              MEMORY_WORKFLOWS_PATH: variant.workflowsPath,
              MEMORY_TASK_QUEUE: taskQueue,
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
        await runPool(
          Array.from({ length: K }, (_, i) => i),
          16,
          async (i) => {
            await client.workflow.start(variant.workflowType, {
              workflowId: `memory-${v}-${i}`,
              taskQueue,
              args: variant.args(i),
            });
          },
        );
        await quiet(worker.pid);
        const after = procSample(worker.pid);
        const perWorkflow = ((after?.rssMb ?? 0) - (before?.rssMb ?? 0)) / K;
        const cpuMs = (((after?.cpuSeconds ?? 0) - (before?.cpuSeconds ?? 0)) * 1000) / K;
        rows.push(
          `${variant.name.padEnd(58)} RSS idle ${String(before?.rssMb).padStart(7)} MB, with ${K} cached ${String(after?.rssMb).padStart(7)} MB: ` +
            `${perWorkflow.toFixed(2)} MB and ${cpuMs.toFixed(1)} ms worker CPU per workflow`,
        );
        process.stdout.write(`${rows[rows.length - 1]}\n`);
      } finally {
        await stopChild(worker, 'SIGTERM', 10_000, () => undefined);
      }
    }
    await client.connection.close();
  } finally {
    await stopChild(server, 'SIGTERM', 10_000, () => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`workflow-memory: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  killAllChildrenSync();
  process.exit(1);
});
