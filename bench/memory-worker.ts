import { writeFileSync } from 'node:fs';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { loadWorkerConfig } from '../config';
import { createPool } from '../db/pool';
import { createWorker } from '../worker/create-worker';

/**
 * One worker process per variant of bench/workflow-memory.ts (MEMORY_VARIANT): `idle` and `local-activity` bundle
 * their own workflow file; `work-point` is duban's worker as production assembles it (worker/create-worker.ts, every
 * activity registered, a pool on a real database). It writes worker.getStatus() to MEMORY_STATUS_FILE every 250 ms,
 * so the harness can see how many workflows the cache holds.
 */

const localActivities = {
  async touch(): Promise<string> {
    return 'ok';
  },
};
export type MemoryActivities = typeof localActivities;

export const MEMORY_VARIANTS = ['idle', 'local-activity', 'work-point'] as const;
export type MemoryVariant = (typeof MEMORY_VARIANTS)[number];

async function main(): Promise<void> {
  const { TEMPORAL_ADDRESS: address, MEMORY_VARIANT: variant, MEMORY_TASK_QUEUE: taskQueue } = process.env;
  const statusFile = process.env.MEMORY_STATUS_FILE;
  if (!address || !variant || !taskQueue || !statusFile)
    throw new Error('TEMPORAL_ADDRESS, MEMORY_VARIANT, MEMORY_TASK_QUEUE, MEMORY_STATUS_FILE');
  const maxCachedWorkflows = Number(process.env.WORKER_MAX_CACHED_WORKFLOWS ?? 1000);
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const connection = await NativeConnection.connect({ address });
  const pool = variant === 'work-point' ? createPool(process.env.DATABASE_URL ?? '') : undefined;
  try {
    let worker: Worker;
    if (variant === 'work-point' && pool) {
      const config = loadWorkerConfig({ ...process.env, TEMPORAL_TASK_QUEUE: taskQueue });
      worker = await createWorker({ connection, pool, config });
    } else if (variant === 'idle' || variant === 'local-activity') {
      worker = await Worker.create({
        connection,
        taskQueue,
        workflowsPath: require.resolve(
          variant === 'idle' ? './memory-idle-workflow' : './memory-local-activity-workflow',
        ),
        ...(variant === 'local-activity' ? { activities: localActivities } : {}),
        maxCachedWorkflows,
      });
    } else {
      throw new Error(`MEMORY_VARIANT must be one of ${MEMORY_VARIANTS.join(', ')}`);
    }
    const report = () => writeFileSync(statusFile, JSON.stringify(worker.getStatus()));
    const timer = setInterval(report, 250);
    try {
      await worker.run();
    } finally {
      clearInterval(timer);
    }
  } finally {
    await pool?.end();
    await connection.close();
  }
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`memory worker: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}
