/**
 * The entry points of `npm run bench` and `npm run chaos` as a user runs them (node --import tsx, like tsx):
 * `--help` answers at once without starting anything, an unknown argument is refused, and Ctrl-C during a benchmark
 * removes what it created.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import { PROJECT_ROOT } from '../../launcher/binaries';

const ADMIN_URL = process.env.TEST_ADMIN_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const DATA = path.join(PROJECT_ROOT, '.data');

interface Run {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const started: Run[] = [];

function start(entry: string, args: string[], env: Record<string, string> = {}): Run {
  const child = spawn(process.execPath, ['--import', 'tsx', entry, ...args], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (b: Buffer) => (stdout += b.toString('utf8')));
  child.stderr?.on('data', (b: Buffer) => (stderr += b.toString('utf8')));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const run = { child, stdout: () => stdout, stderr: () => stderr, exited };
  started.push(run);
  return run;
}

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} took more than ${ms / 1000} s`)), ms);
    }),
  ]);
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, ms: number): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function databases(pattern: string): Promise<string[]> {
  const admin = new Client({ connectionString: ADMIN_URL });
  await admin.connect();
  try {
    const { rows } = await admin.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datname LIKE $1', [
      pattern,
    ]);
    return rows.map((r) => r.datname);
  } finally {
    await admin.end();
  }
}

const benchDirs = (): string[] => (existsSync(DATA) ? readdirSync(DATA).filter((d) => d.startsWith('bench-')) : []);

/** What a failed run of this file may leave behind: the benchmark's database, directory and processes. */
let leftover: { database?: string; dir?: string } = {};

afterAll(async () => {
  for (const run of started) {
    if (run.child.exitCode !== null || run.child.signalCode !== null) continue;
    // A second SIGINT (more than a second after the first: closer ones count once) makes the benchmark kill its
    // children (each in its own process group) at once.
    run.child.kill('SIGINT');
    await new Promise((r) => setTimeout(r, 1_100));
    run.child.kill('SIGINT');
    await within(run.exited, 5_000, 'the benchmark to exit').catch(() => run.child.kill('SIGKILL'));
  }
  if (leftover.database) {
    const admin = new Client({ connectionString: ADMIN_URL });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${leftover.database} WITH (FORCE)`).finally(() => admin.end());
  }
  if (leftover.dir) rmSync(leftover.dir, { recursive: true, force: true });
});

test.each([
  ['bench/run.ts', 'BENCH_WP'],
  ['chaos/run.ts', 'CHAOS_FAULTS'],
])('%s --help prints its usage and variables and exits 0 within seconds, starting nothing', async (entry, variable) => {
  const dirsBefore = benchDirs();
  const run = start(entry, ['--help']);
  expect(await within(run.exited, 15_000, `${entry} --help`)).toEqual({ code: 0, signal: null });
  expect(run.stdout()).toContain('用法 / usage:');
  expect(run.stdout()).toContain(variable);
  expect(run.stderr()).toBe('');
  expect(benchDirs()).toEqual(dirsBefore);
});

test('bench/run.ts takes --quick and refuses any other argument, naming what it takes', async () => {
  const run = start('bench/run.ts', ['--quik']);
  expect(await within(run.exited, 15_000, 'bench/run.ts --quik')).toEqual({ code: 2, signal: null });
  expect(run.stderr()).toContain('takes only --quick (got --quik)');
  expect(run.stdout()).toBe('');
});

test('Ctrl-C while the benchmark starts stops its stack and removes its database and data directory', async () => {
  const run = start('bench/run.ts', [], {
    BENCH_WP: '2',
    BENCH_UNITS: '2',
    BENCH_BUILD: 'false',
    BENCH_PACED_N: '0',
    BENCH_REPORTS_S: '5',
    BENCH_PACED_S: '1',
    BENCH_KEEP: 'false',
    BENCH_ADMIN_DATABASE_URL: ADMIN_URL,
  });
  // The stack announces its database and directory right after creating them.
  const [, database, dir] = await waitFor(
    'the benchmark to create its database',
    () => /PostgreSQL database (duban_bench_\w+) on the real server; data in (\S+)/.exec(run.stdout()) ?? undefined,
    60_000,
  );
  leftover = { database: database!, dir: dir! };
  expect(await databases(database!)).toEqual([database]);
  expect(existsSync(dir!)).toBe(true);

  run.child.kill('SIGINT');
  const exit = await within(run.exited, 30_000, 'the benchmark to stop after SIGINT');

  expect({ exit, stderr: run.stderr() }).toEqual({ exit: { code: 130, signal: null }, stderr: '' });
  expect(run.stdout()).toContain('SIGINT: stopping the stack and removing its database and data directory');
  expect(await databases(database!)).toEqual([]);
  expect(existsSync(dir!)).toBe(false);
}, 120_000);
