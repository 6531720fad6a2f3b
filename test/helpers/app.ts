import type { FastifyInstance } from 'fastify';
import type { Pool } from 'pg';
import type { Client } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { buildApp } from '../../api/app';
import { loadApiConfig, type ApiConfig } from '../../config';
import { createToken, type ApiRole } from '../../db/tokens-repo';
import { createTestDatabase, type TestDatabase } from './db';
import { createTimeSkippingEnv } from './temporal';

export const TEST_LINK_SECRET = 'test-link-secret-'.padEnd(48, 'x');

/** The API's configuration for tests; DATABASE_URL only satisfies the schema when a pool is passed in. */
export function testConfig(env: Record<string, string> = {}): ApiConfig {
  return loadApiConfig({
    DATABASE_URL: 'postgres://unused@127.0.0.1:1/unused',
    LINK_SECRET: TEST_LINK_SECRET,
    LOG_LEVEL: 'silent',
    ...env,
  });
}

const open = new Set<FastifyInstance>();

// Every app built in a test is closed after it, passed or failed (F's `t.after(() => app.close())`).
afterEach(async () => {
  const apps = [...open];
  open.clear();
  await Promise.all(apps.map((app) => app.close()));
});

/** The app as production builds it, on the caller's pool and Temporal client; closed after the current test. */
export async function build(
  deps: { pool: Pool; temporal: Client },
  env: Record<string, string> = {},
): Promise<FastifyInstance> {
  const app = await buildApp(testConfig(env), deps);
  open.add(app);
  // Not readied here, so a test may still add a probe route; inject() readies the app on first use.
  return app;
}

export const bearer = (token: string): { authorization: string } => ({ authorization: `Bearer ${token}` });

export interface ApiTestContext {
  db: TestDatabase;
  env: TestWorkflowEnvironment;
  /** Authorization headers of an admin and a viewer token created in this file's database. */
  admin: { authorization: string };
  viewer: { authorization: string };
  /** build() on this file's database and time-skipping server. */
  build(env?: Record<string, string>): Promise<FastifyInstance>;
}

/**
 * Per test file: a fresh database, a time-skipping Temporal server and one admin and one viewer token.
 * Call at the top level of a test file; the fields are filled in before the first test runs.
 */
export function useApiTestContext(): ApiTestContext {
  const ctx = {} as ApiTestContext;
  beforeAll(async () => {
    const [db, env] = await Promise.all([createTestDatabase(), createTimeSkippingEnv()]);
    ctx.db = db;
    ctx.env = env;
    ctx.admin = await headersFor(db.pool, 'admin');
    ctx.viewer = await headersFor(db.pool, 'viewer');
    ctx.build = (overrides) => build({ pool: db.pool, temporal: env.client }, overrides);
  }, 60_000);
  afterAll(async () => {
    await ctx.env?.teardown();
    await ctx.db?.drop();
  });
  return ctx;
}

async function headersFor(pool: Pool, role: ApiRole): Promise<{ authorization: string }> {
  const { token } = await createToken(pool, { name: `test-${role}`, role });
  return bearer(token);
}
