import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, Runtime, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { temporal } from '@temporalio/proto';
import { resolveBinary } from '../../launcher/binaries';
import { SA, SEARCH_ATTRIBUTES } from '../../workflows/shared';
import { WORKFLOWS_PATH } from '../../worker/create-worker';

const TYPES: Record<string, temporal.api.enums.v1.IndexedValueType> = {
  Int: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_INT,
  Keyword: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  KeywordList: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
};

/**
 * A time-skipping test server (the installed binary; nothing is downloaded) with duban's custom
 * search attributes registered. Time skipping is global to one environment: one per test file.
 */
export async function createTimeSkippingEnv(): Promise<TestWorkflowEnvironment> {
  quietRuntime();
  const env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: resolveBinary('temporal-test-server', { install: false }) } },
  });
  await env.connection.operatorService.addSearchAttributes({
    namespace: env.namespace ?? 'default',
    searchAttributes: Object.fromEntries(Object.entries(SEARCH_ATTRIBUTES).map(([name, type]) => [name, TYPES[type]!])),
  });
  return env;
}

/** webpack's chatter stays out of test output; errors do not. */
export const bundlerLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: (m: string) => console.error(m),
};

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;
/** One webpack build of the workflows per test file. */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: bundlerLogger });
  return bundle;
}

let runtimeInstalled = false;
/** Worker logs at WARN so test output shows failures, not every activity. Must run before any connection. */
export function quietRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  Runtime.install({ logger: new DefaultLogger(process.env.DUBAN_TEST_LOG_LEVEL === 'debug' ? 'DEBUG' : 'WARN') });
}

/**
 * A real Temporal dev server (the installed CLI, in-memory store) for tests that need real time,
 * e.g. a worker that is stopped while timers fire: the time-skipping server cannot advance its
 * clock while a workflow task waits for a worker.
 */
export async function createDevServerEnv(): Promise<TestWorkflowEnvironment> {
  quietRuntime();
  return TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: resolveBinary('temporal', { install: false }) },
      searchAttributes: Object.values(SA),
      extraArgs: ['--log-level', 'error'],
    },
  });
}
