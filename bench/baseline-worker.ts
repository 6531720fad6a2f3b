import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { BASELINE_TASK_QUEUE } from './baseline-workflow';

/**
 * The baseline worker: a process of its own, like duban's worker, so both are measured the same way
 * (RSS and CPU from /proc). Same cache size as duban's default. SIGTERM stops it (the SDK's Runtime
 * turns the signal into worker.shutdown()).
 */
async function main(): Promise<void> {
  const address = process.env.TEMPORAL_ADDRESS;
  if (!address) throw new Error('TEMPORAL_ADDRESS is required');
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const connection = await NativeConnection.connect({ address });
  try {
    const worker = await Worker.create({
      connection,
      taskQueue: BASELINE_TASK_QUEUE,
      workflowsPath: require.resolve('./baseline-workflow'),
      maxCachedWorkflows: Number(process.env.WORKER_MAX_CACHED_WORKFLOWS ?? 1000),
    });
    await worker.run();
  } finally {
    await connection.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`baseline worker: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
