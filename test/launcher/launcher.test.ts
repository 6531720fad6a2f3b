import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { existsSync, lstatSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client as TemporalClient, Connection } from '@temporalio/client';
import { Client } from 'pg';
import { PROJECT_ROOT, resolveBinary } from '../../launcher/binaries';
import { SEARCH_ATTRIBUTES } from '../../launcher/search-attributes';
import {
  cleanEnv,
  freePorts,
  launch,
  removeTempDataDirs,
  stopAllLaunched,
  stopLauncher,
  tempDataDir,
} from '../helpers/launcher';

/**
 * The real launcher, as `npm start` runs it, on free ports and a throw-away DATA_DIR: it must come up,
 * serve what it printed, stop everything it started on Ctrl-C, and resume from the same data.
 */

jest.setTimeout(120_000);

const run = promisify(execFile);

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Command lines of live processes that mention `needle` (the temp DATA_DIR appears in the dev server's). */
async function processesMentioning(needle: string): Promise<string[]> {
  const { stdout } = await run('ps', ['-eo', 'pid=,args=']);
  return stdout.split('\n').filter((line) => line.includes(needle));
}

afterEach(stopAllLaunched);

describe('launcher (npm start)', () => {
  afterAll(removeTempDataDirs);

  test('runs Temporal, embedded PostgreSQL, worker and API; Ctrl-C stops all of it; a restart resumes the data', async () => {
    const dataDir = tempDataDir();
    const [port, temporalPort, uiPort, pgPort] = (await freePorts(4)) as [number, number, number, number];
    const env = {
      DATA_DIR: dataDir,
      PORT: String(port),
      TEMPORAL_PORT: String(temporalPort),
      TEMPORAL_UI_PORT: String(uiPort),
      EMBEDDED_PG_PORT: String(pgPort),
    };

    const first = launch(env);
    await first.waitFor(/duban is ready/, 90_000);
    expect(first.output()).toContain(`http://localhost:${port}/docs`);
    expect(first.output()).toContain(`http://localhost:${uiPort}`);

    const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
    expect(ready.status).toBe(200);
    const ui = await fetch(`http://127.0.0.1:${uiPort}/`);
    expect(ui.status).toBe(200);

    const temporal = resolveBinary('temporal', { install: false });
    const { stdout: attributes } = await run(temporal, [
      'operator',
      'search-attribute',
      'list',
      '--address',
      `127.0.0.1:${temporalPort}`,
    ]);
    for (const [name, type] of Object.entries(SEARCH_ATTRIBUTES)) {
      expect(attributes).toMatch(new RegExp(`\\b${name}\\s+${type}\\b`));
    }

    // A real PostgreSQL server: password authentication, loopback only, files only its user can read.
    const password = readFileSync(path.join(dataDir, 'postgres-password'), 'utf8').trim();
    expect(statSync(path.join(dataDir, 'postgres-password')).mode & 0o777).toBe(0o600);
    expect(statSync(path.join(dataDir, 'postgres')).mode & 0o777).toBe(0o700);
    const pgUrl = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${pgPort}/duban`;
    const noPassword = new Client({ connectionString: `postgres://postgres@127.0.0.1:${pgPort}/duban` });
    await expect(noPassword.connect()).rejects.toThrow(/password/i);
    const { stdout: listening } = await run('ss', ['-Hltn', `sport = :${pgPort}`]);
    expect(
      listening
        .trim()
        .split('\n')
        .map((l) => l.trim().split(/\s+/)[3]),
    ).toEqual([`127.0.0.1:${pgPort}`]);
    if (process.getuid?.() === 0) {
      // PostgreSQL refuses root; the launcher runs it as an unprivileged user, who cannot enter this 0700 directory.
      expect(statSync(path.join(dataDir, 'postgres')).uid).not.toBe(0);
      expect(lstatSync(path.join(dataDir, 'postgres')).isSymbolicLink()).toBe(true);
      expect(first.output()).toContain('cannot reach');
    }
    const probe = new Client({ connectionString: pgUrl });
    await probe.connect();
    const { rows: serverRows } = await probe.query<{ version: string }>('SELECT version()');
    expect(serverRows[0]?.version).toMatch(/^PostgreSQL \d+/);
    await probe.end();

    // The CLI finds the running stack's database without DATABASE_URL.
    const cli = await run(process.execPath, ['bin/duban.js', 'token', 'list'], {
      cwd: PROJECT_ROOT,
      env: { ...cleanEnv(), DATA_DIR: dataDir },
    });
    expect(cli.stdout).toContain('admin');

    // Leave a trace in both stores to find after the restart.
    const pg = new Client({ connectionString: pgUrl });
    await pg.connect();
    await pg.query('CREATE TABLE launcher_probe (note text)');
    await pg.query('INSERT INTO launcher_probe VALUES ($1)', ['before restart']);
    await pg.end();
    const connection = await Connection.connect({ address: `127.0.0.1:${temporalPort}` });
    await new TemporalClient({ connection }).workflow.start('launcherProbe', {
      taskQueue: 'launcher-test-nobody-polls',
      workflowId: 'launcher-probe',
    });
    await connection.close();

    const pids = first.pids();
    expect([...pids.keys()].sort()).toEqual(['api', 'postgres', 'temporal', 'worker']);
    expect(existsSync(path.join(dataDir, 'stack.json'))).toBe(true);
    expect(await stopLauncher(first)).toEqual({ code: 0, signal: null });
    // The worker drained on its own within the launcher's grace, not killed after it.
    expect(first.output()).toContain('[launcher] worker stopped (code 0)');
    for (const pid of pids.values()) expect(isAlive(pid)).toBe(false);
    expect(await processesMentioning(dataDir)).toEqual([]);
    expect(statSync(path.join(dataDir, 'link-secret')).mode & 0o777).toBe(0o600);
    expect(existsSync(path.join(dataDir, 'stack.json'))).toBe(false);

    const second = launch(env);
    await second.waitFor(/duban is ready/, 90_000);
    expect(second.output()).not.toContain('generated LINK_SECRET');
    const again = new Client({ connectionString: pgUrl });
    await again.connect();
    const { rows } = await again.query<{ note: string }>('SELECT note FROM launcher_probe');
    await again.end();
    expect(rows).toEqual([{ note: 'before restart' }]);
    const connection2 = await Connection.connect({ address: `127.0.0.1:${temporalPort}` });
    const described = await new TemporalClient({ connection: connection2 }).workflow
      .getHandle('launcher-probe')
      .describe();
    await connection2.close();
    expect(described.status.name).toBe('RUNNING');

    const pids2 = second.pids();
    expect(await stopLauncher(second)).toEqual({ code: 0, signal: null });
    for (const pid of pids2.values()) expect(isAlive(pid)).toBe(false);
    expect(await processesMentioning(dataDir)).toEqual([]);
  });

  test('with DATABASE_URL set it uses that server and starts no embedded one', async () => {
    const databaseUrl = process.env.TEST_DATABASE_URL;
    if (!databaseUrl) throw new Error('TEST_DATABASE_URL is set by test/global-setup.ts');
    const dataDir = tempDataDir();
    const [port, temporalPort, uiPort] = (await freePorts(3)) as [number, number, number];
    const l = launch({
      DATA_DIR: dataDir,
      DATABASE_URL: databaseUrl,
      PORT: String(port),
      TEMPORAL_PORT: String(temporalPort),
      TEMPORAL_UI_PORT: String(uiPort),
      // Other test files share this database; demo data would change what they see.
      SEED_DEMO: 'false',
    });
    await l.waitFor(/duban is ready/, 90_000);
    expect(l.output()).not.toMatch(/started postgres|embedded PostgreSQL/);
    expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);

    const pg = new Client({ connectionString: databaseUrl });
    await pg.connect();
    const { rows } = await pg.query<{ n: number }>('SELECT count(*)::int AS n FROM pgmigrations');
    await pg.end();
    expect(rows[0]?.n).toBeGreaterThan(0);

    expect(await stopLauncher(l)).toEqual({ code: 0, signal: null });
    expect(await processesMentioning(dataDir)).toEqual([]);
  });

  test('a busy PORT stops it before anything starts, with one line naming PORT', async () => {
    const dataDir = tempDataDir();
    const [port, temporalPort, uiPort, pgPort] = (await freePorts(4)) as [number, number, number, number];
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', resolve));
    try {
      const l = launch({
        DATA_DIR: dataDir,
        PORT: String(port),
        TEMPORAL_PORT: String(temporalPort),
        TEMPORAL_UI_PORT: String(uiPort),
        EMBEDDED_PG_PORT: String(pgPort),
      });
      expect(await l.exited).toEqual({ code: 1, signal: null });
      const lines = l.stderr().trimEnd().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(new RegExp(`^duban: port ${port} is already in use: .*set PORT=\\d+`));
      expect(l.stderr()).not.toMatch(/^\s+at /m);
      expect(l.output()).not.toContain('started');
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });
});
