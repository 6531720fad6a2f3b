import { Client } from '@temporalio/client';
import { NativeConnection, Runtime, DefaultLogger } from '@temporalio/worker';
import { loadWorkerConfig, type WorkerConfig } from '../config';
import { runMain } from '../config/run-main';
import { createPool } from '../db/pool';
import { migrate } from '../db/migrate';
import { createWorker } from './create-worker';
import { ensureDispatcher } from './dispatcher';
import { prebuiltWorkflowBundle } from './workflow-bundle';

let config: WorkerConfig | undefined;

async function main(): Promise<void> {
  config = loadWorkerConfig(process.env);
  const level =
    config.LOG_LEVEL === 'silent' || config.LOG_LEVEL === 'fatal'
      ? 'ERROR'
      : config.LOG_LEVEL === 'trace'
        ? 'TRACE'
        : config.LOG_LEVEL === 'debug'
          ? 'DEBUG'
          : config.LOG_LEVEL === 'warn'
            ? 'WARN'
            : config.LOG_LEVEL === 'error'
              ? 'ERROR'
              : 'INFO';
  // The SDK's Runtime installs SIGINT/SIGTERM handlers that call worker.shutdown(): in-flight
  // activities get WORKER_SHUTDOWN_GRACE_MS to finish, then run() resolves and we close the pool.
  Runtime.install({ logger: new DefaultLogger(level) });
  await migrate(config.DATABASE_URL);
  const connection = await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS });
  const pool = createPool(config.DATABASE_URL);
  try {
    const workflowBundle = prebuiltWorkflowBundle(Runtime.instance().logger);
    const worker = await createWorker({ connection, pool, config, ...(workflowBundle ? { workflowBundle } : {}) });
    // Without the dispatcher no notice leaves the outbox, so failing to start it stops the worker loudly.
    const client = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
    await ensureDispatcher(client, config.TEMPORAL_TASK_QUEUE, { intervalMs: config.DISPATCH_INTERVAL });
    Runtime.instance().logger.info('worker started', {
      taskQueue: config.TEMPORAL_TASK_QUEUE,
      namespace: config.TEMPORAL_NAMESPACE,
    });
    await worker.run();
    Runtime.instance().logger.info('worker drained and stopped');
  } finally {
    await pool.end();
    await connection.close();
  }
}

runMain(main, () => ({
  databaseUrl: config?.DATABASE_URL ?? process.env.DATABASE_URL,
  temporalAddress: config?.TEMPORAL_ADDRESS ?? process.env.TEMPORAL_ADDRESS,
}));
