/**
 * Year-long workflows outlive deploys: every released version's histories (exported from a full
 * time-skipped seed cycle into test/histories/<version>/) must replay against today's code.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { bundleWorkflowCode, Worker, type ReplayResult } from '@temporalio/worker';
import type { temporal } from '@temporalio/proto';
import { WORKFLOWS_PATH } from '../../worker/create-worker';
import { quietRuntime, workflowBundle } from '../helpers/temporal';

const HISTORIES = path.join(__dirname, '..', 'histories');

function loadHistories(): { workflowId: string; history: temporal.api.history.v1.IHistory }[] {
  return readdirSync(HISTORIES, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .flatMap((d) =>
      readdirSync(path.join(HISTORIES, d.name))
        .filter((f) => f.endsWith('.json.gz'))
        .map((f) => ({
          workflowId: `${d.name}/${f.replace(/\.json\.gz$/, '')}`,
          history: JSON.parse(
            gunzipSync(readFileSync(path.join(HISTORIES, d.name, f))).toString('utf8'),
          ) as temporal.api.history.v1.IHistory,
        })),
    );
}

async function replay(bundle: Awaited<ReturnType<typeof workflowBundle>>) {
  const results: ReplayResult[] = [];
  for await (const r of Worker.runReplayHistories({ workflowBundle: bundle }, loadHistories())) results.push(r);
  return results;
}

beforeAll(() => quietRuntime());

test('every stored history of every released version replays against the current workflow code', async () => {
  const histories = loadHistories();
  // The seed cycle: the cycle workflow and its 29 work points, at least one released version.
  expect(histories.filter((h) => h.workflowId.includes('/wp-2023-')).length).toBeGreaterThanOrEqual(29);
  const results = await replay(await workflowBundle());
  const failures = results.filter((r) => r.error).map((r) => `${r.workflowId}: ${String(r.error)}`);
  expect(failures).toEqual([]);
  expect(results).toHaveLength(histories.length);
}, 120_000);

test('a non-deterministic change to workPoint (a new timer before its loop) fails the replay', async () => {
  const changed = await bundleWorkflowCode({
    workflowsPath: WORKFLOWS_PATH,
    logger: {
      log: () => undefined,
      trace: () => undefined,
      debug: () => undefined,
      info: () => undefined,
      warn: () => undefined,
      error: () => undefined,
    },
    webpackConfigHook: (config) => {
      config.module?.rules?.push({
        test: /work-point\.ts$/,
        enforce: 'pre',
        use: [{ loader: require.resolve('../helpers/nondeterminism-loader.js') }],
      });
      return config;
    },
  });
  const results = await replay(changed);
  const workPoints = results.filter((r) => r.workflowId.includes('/wp-'));
  expect(workPoints.length).toBeGreaterThan(0);
  for (const r of workPoints) expect(r.error?.name).toBe('DeterminismViolationError');
}, 120_000);
