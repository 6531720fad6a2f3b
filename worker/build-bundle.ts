/**
 * `npm run build` (after tsc) and a worker whose prebuilt bundle is stale run this: it writes
 * dist/workflow-bundle.js and its manifest (see workflow-bundle.ts).
 */
import { writeWorkflowBundle, WORKFLOW_BUNDLE_PATH, ROOT } from './workflow-bundle';
import path from 'node:path';

writeWorkflowBundle().then(
  ({ code, modules }) => {
    const mb = (code.length / 1024 / 1024).toFixed(2);
    process.stdout.write(`${path.relative(ROOT, WORKFLOW_BUNDLE_PATH)}: ${mb} MB, ${modules.length} modules\n`);
  },
  (err: unknown) => {
    process.stderr.write(`could not build the workflow bundle: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
