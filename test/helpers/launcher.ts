import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from '../../launcher/binaries';

/** The real launcher (`npm start`) in a test: free ports, a throw-away DATA_DIR, and nothing left behind. */

export async function freePorts(count: number): Promise<number[]> {
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

export interface Launched {
  child: ChildProcess;
  output: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  waitFor: (pattern: RegExp, timeoutMs: number) => Promise<RegExpMatchArray>;
  pids: () => Map<string, number>;
}

const launched: Launched[] = [];

/** The launcher and the CLI must decide from what the test passes, not from the developer's shell. */
export function cleanEnv(): NodeJS.ProcessEnv {
  const base = { ...process.env };
  for (const name of [
    'DATABASE_URL',
    'TEMPORAL_ADDRESS',
    'LINK_SECRET',
    'PUBLIC_BASE_URL',
    'TEMPORAL_UI_URL',
    'HOST',
    'DUBAN_API_URL',
  ]) {
    delete base[name];
  }
  return base;
}

export function launch(env: Record<string, string>): Launched {
  const base = cleanEnv();
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

export async function stopLauncher(l: Launched): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  l.child.kill('SIGINT');
  return l.exited;
}

/** Stops every launcher a test started and kills whatever it reported starting. Call from afterEach. */
export async function stopAllLaunched(): Promise<void> {
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
}

const dataDirs: string[] = [];
export function tempDataDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'duban-launcher-'));
  dataDirs.push(dir);
  return dir;
}
/** Call from afterAll. */
export function removeTempDataDirs(): void {
  for (const dir of dataDirs.splice(0)) {
    // mkdtemp makes 0700 directories the server user cannot enter: the launcher then keeps the cluster under
    // /var/lib/duban-postgres, linked from DATA_DIR/postgres (what a checkout under /root gets too).
    const cluster = path.join(dir, 'postgres');
    if (existsSync(cluster) && lstatSync(cluster).isSymbolicLink()) {
      rmSync(realpathSync(cluster), { recursive: true, force: true });
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A fresh DATA_DIR and free ports for every server the launcher starts, as its environment. */
export async function freshStackEnv(): Promise<{ dataDir: string; port: number; env: Record<string, string> }> {
  const dataDir = tempDataDir();
  const [port, temporalPort, uiPort, pgPort] = (await freePorts(4)) as [number, number, number, number];
  return {
    dataDir,
    port,
    env: {
      DATA_DIR: dataDir,
      PORT: String(port),
      TEMPORAL_PORT: String(temporalPort),
      TEMPORAL_UI_PORT: String(uiPort),
      EMBEDDED_PG_PORT: String(pgPort),
    },
  };
}
