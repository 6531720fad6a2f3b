import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';

/**
 * A worker for bench/workflow-memory.ts: registers the workflows of MEMORY_WORKFLOWS_PATH and no activities,
 * so a workflow that schedules an activity stays open (and cached) forever.
 */
async function main(): Promise<void> {
  const { TEMPORAL_ADDRESS: address, MEMORY_WORKFLOWS_PATH: workflowsPath, MEMORY_TASK_QUEUE: taskQueue } = process.env;
  if (!address || !workflowsPath || !taskQueue)
    throw new Error('TEMPORAL_ADDRESS, MEMORY_WORKFLOWS_PATH, MEMORY_TASK_QUEUE');
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const connection = await NativeConnection.connect({ address });
  try {
    const worker = await Worker.create({
      connection,
      taskQueue,
      workflowsPath,
      maxCachedWorkflows: Number(process.env.WORKER_MAX_CACHED_WORKFLOWS ?? 1000),
    });
    await worker.run();
  } finally {
    await connection.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`memory worker: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
