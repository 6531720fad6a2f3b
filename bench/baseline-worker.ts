import { writeFileSync } from 'node:fs';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { createPool } from '../db/pool';
import { createBaselineActivities } from './baseline-activities';
import { BASELINE_TASK_QUEUE } from './baseline-workflow';

/**
 * The baseline worker: a process of its own, like duban's worker, so both are measured the same way (RSS and CPU
 * from /proc), with a pool like duban's (db/pool.ts) on the stack's database. Its cache holds every baseline
 * workflow (WORKER_MAX_CACHED_WORKFLOWS, set by the harness), so none is replayed. It loads the prebuilt bundle of
 * BASELINE_BUNDLE when given — what `baseline-worker.ts --bundle <file>` writes, in a short-lived process, as
 * `npm run build` does for duban's — and bundles its workflows itself otherwise. SIGTERM stops it (the SDK's Runtime
 * turns the signal into worker.shutdown()).
 */
const WORKFLOWS = require.resolve('./baseline-workflow');

async function main(): Promise<void> {
  if (process.argv[2] === '--bundle') {
    const out = process.argv[3];
    if (!out) throw new Error('--bundle <file>');
    writeFileSync(out, (await bundleWorkflowCode({ workflowsPath: WORKFLOWS })).code);
    return;
  }
  const { TEMPORAL_ADDRESS: address, DATABASE_URL: databaseUrl, LINK_SECRET: linkSecret } = process.env;
  if (!address || !databaseUrl || !linkSecret) throw new Error('TEMPORAL_ADDRESS, DATABASE_URL, LINK_SECRET');
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const connection = await NativeConnection.connect({ address });
  const pool = createPool(databaseUrl, { application_name: 'duban-bench-baseline' });
  try {
    const worker = await Worker.create({
      connection,
      taskQueue: BASELINE_TASK_QUEUE,
      ...(process.env.BASELINE_BUNDLE
        ? { workflowBundle: { codePath: process.env.BASELINE_BUNDLE } }
        : { workflowsPath: WORKFLOWS }),
      activities: createBaselineActivities(pool, linkSecret, process.env.PUBLIC_BASE_URL ?? 'http://127.0.0.1'),
      maxCachedWorkflows: Number(process.env.WORKER_MAX_CACHED_WORKFLOWS ?? 1000),
    });
    await worker.run();
  } finally {
    await pool.end();
    await connection.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`baseline worker: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
