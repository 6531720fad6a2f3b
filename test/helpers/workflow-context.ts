import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { DEMO_UNIT_DIRECTORY } from '../../domain/demo-directory';
import { importDirectory } from '../../db/units-repo';
import type { UnitRef } from '../../domain/model';
import { createTestDatabase, type TestDatabase } from './db';

/** A demo unit by name, as the workflows refer to it. */
export function demoUnit(name: string): UnitRef {
  const u = DEMO_UNIT_DIRECTORY.units.find((x) => x.name === name);
  if (!u) throw new Error(`no demo unit ${name}`);
  return { id: u.id, name: u.name };
}

/**
 * Per test file: a Temporal environment (time-skipping or dev server) and a fresh database holding the demo
 * directory. Call at the top level; the fields are filled in before the first test runs.
 */
export function useWorkflowTestContext(createEnv: () => Promise<TestWorkflowEnvironment>): {
  env: TestWorkflowEnvironment;
  db: TestDatabase;
} {
  const ctx = {} as { env: TestWorkflowEnvironment; db: TestDatabase };
  beforeAll(async () => {
    [ctx.env, ctx.db] = await Promise.all([createEnv(), createTestDatabase()]);
    await importDirectory(ctx.db.pool, DEMO_UNIT_DIRECTORY, { demo: true });
  }, 120_000);
  afterAll(async () => {
    await ctx.env?.teardown();
    await ctx.db?.drop();
  });
  return ctx;
}
