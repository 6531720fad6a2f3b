import { Client } from 'pg';
import { randomBytes } from 'node:crypto';

/**
 * One fresh PostgreSQL database per test run, on the real server (DATABASE_URL or 127.0.0.1:5432).
 * Its URL reaches the test files as TEST_DATABASE_URL; global-teardown drops it.
 */
export default async function globalSetup(): Promise<void> {
  const adminUrl =
    process.env.TEST_ADMIN_DATABASE_URL ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const name = `duban_test_${Date.now()}_${randomBytes(3).toString('hex')}`;
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  process.env.TEST_ADMIN_DATABASE_URL = adminUrl;
  process.env.TEST_DATABASE_NAME = name;
  process.env.TEST_DATABASE_URL = url.toString();
}
