import { Worker, type NativeConnection, type State, type WorkerOptions } from '@temporalio/worker';
import type { Pool } from 'pg';
import { createActivities } from '../activities';
import { deliveryOptionsFromConfig, type DeliveryConfig } from '../activities/delivery';
import { WORKFLOWS_PATH } from './workflow-bundle';

export interface CreateWorkerOptions {
  connection: NativeConnection;
  pool: Pool;
  config: {
    TEMPORAL_NAMESPACE: string;
    TEMPORAL_TASK_QUEUE: string;
    PUBLIC_BASE_URL: string;
    LINK_SECRET: string;
    WORKER_MAX_CACHED_WORKFLOWS?: number;
    WORKER_SHUTDOWN_GRACE_MS?: number;
  } & DeliveryConfig;
  /** worker/main.ts passes dist/workflow-bundle.js; tests pass one bundle so several workers share one build. */
  workflowBundle?: WorkerOptions['workflowBundle'];
}

export { WORKFLOWS_PATH } from './workflow-bundle';

const SHUTTING_DOWN: ReadonlySet<State> = new Set<State>(['STOPPING', 'DRAINING', 'DRAINED', 'STOPPED', 'FAILED']);

/** The one place a duban worker is assembled: production, the launcher and the tests all use it. */
export async function createWorker(opts: CreateWorkerOptions): Promise<Worker> {
  const { config } = opts;
  // Bound late: the activities exist before the worker that runs them. Shutdown (a signal through the SDK's
  // Runtime, or worker.shutdown()) moves the worker out of RUNNING at once, long before the grace period
  // ends and the SDK cancels what is still running.
  let state = (): State => 'INITIALIZED';
  const stopping = () => SHUTTING_DOWN.has(state());
  const worker = await Worker.create({
    connection: opts.connection,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    ...(opts.workflowBundle ? { workflowBundle: opts.workflowBundle } : { workflowsPath: WORKFLOWS_PATH }),
    activities: createActivities({
      pool: opts.pool,
      publicBaseUrl: config.PUBLIC_BASE_URL,
      linkSecret: config.LINK_SECRET,
      delivery: { ...deliveryOptionsFromConfig(config), stopping },
    }),
    // At least 1 (config enforces it): work points persist through local activities, whose results reach the
    // workflow through the cache (memory per cached workflow: bench/workflow-memory.ts).
    maxCachedWorkflows: config.WORKER_MAX_CACHED_WORKFLOWS ?? 1000,
    shutdownGraceTime: config.WORKER_SHUTDOWN_GRACE_MS ?? 10_000,
  });
  state = () => worker.getState();
  return worker;
}
