import type { Client, WorkflowHandle } from '@temporalio/client';
import type { NativeConnection, Worker } from '@temporalio/worker';
import type { Pool } from 'pg';
import { createWorker, type CreateWorkerOptions } from '../../worker/create-worker';
import type { ReportSignal } from '../../domain/messages';
import { annualCycle } from '../../workflows';
import { cycleWorkflowId, reportSignal, workPointWorkflowId } from '../../workflows/shared';
import { workflowBundle } from './temporal';
import { until } from './wait';

export interface TestWorkerOptions {
  /** The test environment's `nativeConnection`. */
  connection: NativeConnection;
  /** The test file's database pool. */
  pool: Pool;
  taskQueue: string;
  /** Signs the reply links in notices; tests that open those links pass the API's secret. */
  linkSecret: string;
  /** Default http://duban.test: the links are only read, not followed. */
  publicBaseUrl?: string;
  /** Anything else the worker's config says in production (SMTP_*, DIGEST_*, WORKER_MAX_CACHED_WORKFLOWS, …). */
  config?: Partial<CreateWorkerOptions['config']>;
}

/**
 * The production worker (worker/create-worker.ts: the activities, the delivery options from config, the cache
 * and shutdown settings) on the test's connection and pool, with this file's one workflow bundle.
 */
export async function createTestWorker(opts: TestWorkerOptions): Promise<Worker> {
  return createWorker({
    connection: opts.connection,
    pool: opts.pool,
    config: {
      TEMPORAL_NAMESPACE: 'default',
      TEMPORAL_TASK_QUEUE: opts.taskQueue,
      PUBLIC_BASE_URL: opts.publicBaseUrl ?? 'http://duban.test',
      LINK_SECRET: opts.linkSecret,
      ...opts.config,
    },
    workflowBundle: await workflowBundle(),
  });
}

export interface RunningWorker {
  worker: Worker;
  /** Shuts the worker down and waits until it has stopped (rejects if the worker failed). */
  stop(): Promise<void>;
}

/** createTestWorker, already running: for a worker that lives across tests (stop it in afterAll). */
export async function startTestWorker(opts: TestWorkerOptions): Promise<RunningWorker> {
  const worker = await createTestWorker(opts);
  const running = worker.run();
  return {
    worker,
    async stop() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
    },
  };
}

export interface TestCycle {
  year: number;
  planId: number;
  taskQueue: string;
  /** The cycle's options (schedule overrides) as POST /api/cycles takes them. */
  options?: unknown;
}

/** Starts the annual cycle workflow for a saved plan, as the API does, under the cycle's workflow id. */
export async function startTestCycle(client: Client, cycle: TestCycle): Promise<WorkflowHandle<typeof annualCycle>> {
  return client.workflow.start(annualCycle, {
    taskQueue: cycle.taskQueue,
    workflowId: cycleWorkflowId(cycle.year),
    args: [
      { year: cycle.year, planId: cycle.planId, ...(cycle.options !== undefined ? { options: cycle.options } : {}) },
    ],
  });
}

/** Waits until work point `n` of the year has written its projection (its obligations are visible to the API). */
export async function waitForWorkPoint(pool: Pool, year: number, n: number): Promise<void> {
  await until(`the projection of work point ${n}`, async () => {
    const { rows } = await pool.query('SELECT 1 FROM work_point_obligations WHERE workflow_id = $1', [
      workPointWorkflowId(year, n),
    ]);
    return rows.length > 0 ? true : undefined;
  });
}

/** A unit's report for a period, signalled straight to the work point (what the reply route does once it is stored). */
export async function sendTestReport(
  client: Client,
  at: { year: number; workPoint: number },
  report: Omit<ReportSignal, 'submittedAt' | 'text'> & Partial<Pick<ReportSignal, 'submittedAt' | 'text'>>,
): Promise<void> {
  await client.workflow.getHandle(workPointWorkflowId(at.year, at.workPoint)).signal(reportSignal, {
    text: '已完成',
    submittedAt: Date.now(),
    ...report,
  });
}
