import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client as TemporalClient, Connection } from '@temporalio/client';
import { Client } from 'pg';
import { PROJECT_ROOT, resolveBinary } from '../../launcher/binaries';
import { SEARCH_ATTRIBUTES } from '../../launcher/search-attributes';

/**
 * The real launcher, as `npm start` runs it, on free ports and a throw-away DATA_DIR: it must come up,
 * serve what it printed, stop everything it started on Ctrl-C, and resume from the same data.
 */

jest.setTimeout(120_000);

const run = promisify(execFile);

async function freePorts(count: number): Promise<number[]> {
  // Hold every socket until all are bound so the kernel hands out distinct ports.
  const servers: Server[] = [];
  const ports: number[] = [];
  for (let i = 0; i < count; i++) {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push(server);
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('expected a TCP address');
    ports.push(address.port);
  }
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

interface Launched {
  child: ChildProcess;
  output: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  waitFor: (pattern: RegExp, timeoutMs: number) => Promise<RegExpMatchArray>;
  pids: () => Map<string, number>;
}

const launched: Launched[] = [];

function launch(env: Record<string, string>): Launched {
  const base = { ...process.env };
  // The launcher must decide from what the test passes, not from the developer's shell.
  for (const name of [
    'DATABASE_URL',
    'TEMPORAL_ADDRESS',
    'LINK_SECRET',
    'PUBLIC_BASE_URL',
    'TEMPORAL_UI_URL',
    'HOST',
  ]) {
    delete base[name];
  }
  const child = spawn(process.execPath, ['--import', 'tsx', 'launcher/main.ts'], {
    cwd: PROJECT_ROOT,
    env: { ...base, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const listeners = new Set<() => void>();
  child.stdout?.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    listeners.forEach((l) => l());
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    err += chunk.toString();
    listeners.forEach((l) => l());
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const handle: Launched = {
    child,
    output: () => out,
    stderr: () => err,
    exited,
    waitFor: (pattern, timeoutMs) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const match = out.match(pattern);
          if (match) {
            done();
            resolve(match);
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`no ${pattern} within ${timeoutMs} ms; output:\n${out}\nstderr:\n${err}`));
        }, timeoutMs);
        const onExit = () => {
          done();
          reject(new Error(`launcher exited before ${pattern}; output:\n${out}\nstderr:\n${err}`));
        };
        const done = () => {
          clearTimeout(timer);
          listeners.delete(check);
          child.off('exit', onExit);
        };
        listeners.add(check);
        child.once('exit', onExit);
        check();
      }),
    pids: () => new Map([...out.matchAll(/started (\w+) \(pid (\d+)\)/g)].map((m) => [m[1] ?? '', Number(m[2])])),
  };
  launched.push(handle);
  return handle;
}

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

async function stopLauncher(l: Launched): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  l.child.kill('SIGINT');
  return l.exited;
}

afterEach(async () => {
  // A failed test must not leave a stack behind: stop the launcher, then kill whatever it reported starting.
  for (const l of launched.splice(0)) {
    if (l.child.exitCode === null && l.child.signalCode === null) {
      l.child.kill('SIGINT');
      const result = await Promise.race([l.exited, new Promise((r) => setTimeout(r, 20_000))]);
      if (!result) l.child.kill('SIGKILL');
    }
    for (const pid of l.pids().values()) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  }
});

describe('launcher (npm start)', () => {
  const dataDirs: string[] = [];
  const tempDataDir = () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'duban-launcher-'));
    dataDirs.push(dir);
    return dir;
  };
  afterAll(() => dataDirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

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

    // Leave a trace in both stores to find after the restart.
    const pg = new Client({ connectionString: `postgres://postgres@127.0.0.1:${pgPort}/postgres` });
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
    expect([...pids.keys()].sort()).toEqual(['api', 'temporal', 'worker']);
    expect(await stopLauncher(first)).toEqual({ code: 0, signal: null });
    for (const pid of pids.values()) expect(isAlive(pid)).toBe(false);
    expect(await processesMentioning(dataDir)).toEqual([]);
    expect(statSync(path.join(dataDir, 'link-secret')).mode & 0o777).toBe(0o600);

    const second = launch(env);
    await second.waitFor(/duban is ready/, 90_000);
    expect(second.output()).not.toContain('generated LINK_SECRET');
    const again = new Client({ connectionString: `postgres://postgres@127.0.0.1:${pgPort}/postgres` });
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
    expect(l.output()).not.toContain('embedded PostgreSQL');
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
