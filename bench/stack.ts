import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Pool } from 'pg';
import { createScratchDatabase, databaseBytes, dropScratchDatabase, terminateConnections } from '../db/bench-queries';
import { Client as TemporalClient, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { freePort } from '../launcher/ports';
import { migrate } from '../db/migrate';
import { createPool } from '../db/pool';
import { createToken } from '../db/tokens-repo';
import { PROJECT_ROOT, resolveBinary } from '../launcher/binaries';
import { describeExit, spawnChild, stopChild, type ExitInfo, type ManagedChild } from '../launcher/children';
import { seedDemo } from '../launcher/seed';
import { until } from './measure';
import { spawnTemporalDevServer, waitForDevServer } from '../launcher/temporal-dev-server';

/**
 * An isolated duban stack for the benchmark and the chaos drill: its own PostgreSQL database (on the real
 * server, never PGlite), its own Temporal dev server persisted to a file in its own data directory, its own
 * ports, and the production entry points (worker/main.ts, api/main.ts) as child processes. Unlike
 * launcher/main.ts it can kill and restart each part on its own, which is the whole point of the drill.
 */

export type Part = 'worker' | 'api' | 'temporal';

export interface StackOptions {
  /** Prefix of the database name and the data directory: `bench`, `chaos`. */
  name: string;
  /** A database on the server to connect to while creating and dropping the stack's own one. */
  adminDatabaseUrl?: string;
  /** Defaults to duban_<name>_<stamp>; tests pass a name under their run's prefix so teardown finds leftovers. */
  databaseName?: string;
  /** Defaults to .data/<name>-<stamp> in the project. */
  dataDir?: string;
  /** Load the demo directory and the 2023 seed plan (launcher/seed.ts). */
  seedDemo?: boolean;
  /** Extra environment of the worker (delivery policy, cache size …) and of the API. */
  workerEnv?: Record<string, string>;
  apiEnv?: Record<string, string>;
  /** Extra node flags of the worker process (profiling). */
  workerNodeArgs?: string[];
  logLevel?: string;
  log?: (msg: string) => void;
  /**
   * What to do when a part exits that nobody stopped: 'restart' it (what a process supervisor would do; the
   * exit is recorded) or 'fail' (the benchmark: figures from a half-dead stack are worthless).
   */
  onUnexpectedExit?: 'restart' | 'fail';
  /**
   * Called with the stack before it creates anything (database, data directory, processes), so that the caller
   * can stop it — and remove what it created — even while it is still starting, e.g. on Ctrl-C.
   */
  onCreated?: (stack: Stack) => void;
}

export interface UnexpectedExit {
  part: Part;
  at: number;
  exit: string;
}

const READY_TIMEOUT_MS = 120_000;
const RESPAWN_DELAY_MS = 1_000;
const MAX_UNEXPECTED_EXITS = 30;

export const DEFAULT_ADMIN_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

const stamp = (): string =>
  `${new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14)}_${randomBytes(2).toString('hex')}`;

export class Stack {
  readonly databaseUrl: string;
  readonly apiUrl: string;
  readonly temporalAddress: string;
  readonly linkSecret: string;
  readonly dataDir: string;
  readonly databaseName: string;
  /** The harness's own small pool on the stack's database (counting, verifying). */
  readonly pool: Pool;
  readonly unexpectedExits: UnexpectedExit[] = [];
  /** Set when a part died and onUnexpectedExit is 'fail'. */
  failure: Error | undefined;
  /** At boot: from spawning the worker until it polled its task queue (bundling its workflows and connecting), ms. */
  workerReadyMs: number | undefined;

  private readonly children: Partial<Record<Part, ManagedChild>> = {};
  private readonly intended = new Set<ManagedChild>();
  private readonly respawning: Partial<Record<Part, Promise<void>>> = {};
  private temporalClient: TemporalClient | undefined;
  private stopping = false;
  /**
   * Creating the database and data directory, then booting: stop() waits for each to settle, so that it never
   * drops the database before CREATE or under a migration that is still connected.
   */
  private created: Promise<void> = Promise.resolve();
  private booted: Promise<void> = Promise.resolve();
  private stopped: Promise<void> | undefined;

  private constructor(
    private readonly opts: Required<Omit<StackOptions, 'databaseName' | 'dataDir' | 'onCreated'>>,
    readonly ports: { api: number; temporal: number; ui: number },
    names: { databaseName: string; dataDir: string; databaseUrl: string },
  ) {
    this.databaseName = names.databaseName;
    this.dataDir = names.dataDir;
    this.databaseUrl = names.databaseUrl;
    this.apiUrl = `http://127.0.0.1:${ports.api}`;
    this.temporalAddress = `127.0.0.1:${ports.temporal}`;
    this.linkSecret = randomBytes(32).toString('hex');
    this.pool = createPool(this.databaseUrl, { max: 4, application_name: `duban-${opts.name}-harness` });
  }

  static async start(options: StackOptions): Promise<Stack> {
    const opts = {
      adminDatabaseUrl: DEFAULT_ADMIN_DATABASE_URL,
      seedDemo: true,
      workerEnv: {},
      apiEnv: {},
      workerNodeArgs: [],
      logLevel: 'warn',
      log: (msg: string) => process.stdout.write(`[${options.name}] ${msg}\n`),
      onUnexpectedExit: 'fail' as const,
      ...options,
    };
    const id = stamp();
    const databaseName = options.databaseName ?? `duban_${options.name}_${id}`;
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(databaseName)) throw new Error(`unusable database name ${databaseName}`);
    const dataDir = options.dataDir ?? path.join(PROJECT_ROOT, '.data', `${options.name}-${id}`);
    const url = new URL(opts.adminDatabaseUrl);
    url.pathname = `/${databaseName}`;
    const ports = { api: await freePort(), temporal: await freePort(), ui: await freePort() };
    const stack = new Stack(opts, ports, { databaseName, dataDir, databaseUrl: url.toString() });
    options.onCreated?.(stack);
    try {
      stack.created = stack.createStorage();
      await stack.created;
      stack.booted = stack.boot();
      await stack.booted;
    } catch (err) {
      await stack.stop({ keep: true });
      throw err;
    }
    return stack;
  }

  private async createStorage(): Promise<void> {
    if (this.stopping) throw new Error('the stack was stopped while starting');
    mkdirSync(path.join(this.dataDir, 'logs'), { recursive: true });
    await createScratchDatabase(this.opts.adminDatabaseUrl, this.databaseName);
  }

  private log(msg: string): void {
    this.opts.log(msg);
  }

  private async boot(): Promise<void> {
    this.log(`PostgreSQL database ${this.databaseName} on the real server; data in ${this.dataDir}`);
    const temporalReady = this.spawnTemporal();
    // Awaited below; a dev server stopped meanwhile must not count as an unhandled rejection first.
    temporalReady.catch(() => undefined);
    await migrate(this.databaseUrl);
    if (this.opts.seedDemo) await seedDemo(this.databaseUrl, (m) => this.log(m));
    await temporalReady;
    await this.spawnNode('worker');
    const workerPolling = this.waitWorkerPolling();
    // Awaited below, after the API: a failure meanwhile must not count as an unhandled rejection first.
    workerPolling.catch(() => undefined);
    await this.spawnNode('api');
    await this.waitApiReady();
    this.workerReadyMs = await workerPolling;
    this.log(`ready: API ${this.apiUrl}, Temporal ${this.temporalAddress} (UI :${this.ports.ui})`);
  }

  /** A Temporal client of the harness's own (baseline load, describe, query). */
  async client(): Promise<TemporalClient> {
    this.temporalClient ??= new TemporalClient({ connection: Connection.lazy({ address: this.temporalAddress }) });
    return this.temporalClient;
  }

  pid(part: Part): number | undefined {
    return this.children[part]?.pid;
  }

  isRunning(part: Part): boolean {
    return this.children[part]?.isRunning() ?? false;
  }

  /** An admin API token in the stack's database. */
  async adminToken(name = 'harness'): Promise<string> {
    return (await createToken(this.pool, { name, role: 'admin' })).token;
  }

  /** Size of Temporal's SQLite store (file + write-ahead log), bytes. */
  temporalStoreBytes(): number {
    const file = path.join(this.dataDir, 'temporal.db');
    let total = 0;
    for (const f of [file, `${file}-wal`]) {
      try {
        total += statSync(f).size;
      } catch {
        // No WAL right after a checkpoint.
      }
    }
    return total;
  }

  private logFd(part: Part): number {
    const fd = openSync(path.join(this.dataDir, 'logs', `${part}.log`), 'a');
    writeSync(fd, `\n--- ${new Date().toISOString()} start ${part}\n`);
    return fd;
  }

  private supervise(part: Part, child: ManagedChild): void {
    void child.exited.then((info: ExitInfo) => {
      if (this.stopping || this.intended.has(child)) return;
      const exit = describeExit(info);
      this.unexpectedExits.push({ part, at: Date.now(), exit });
      this.log(`${part} exited on its own (${exit}); see ${path.join(this.dataDir, 'logs', `${part}.log`)}`);
      if (this.opts.onUnexpectedExit === 'fail') {
        this.failure ??= new Error(`${part} exited unexpectedly (${exit})`);
        return;
      }
      if (this.unexpectedExits.length > MAX_UNEXPECTED_EXITS) {
        this.failure ??= new Error(`more than ${MAX_UNEXPECTED_EXITS} unexpected exits; last: ${part} (${exit})`);
        return;
      }
      // A part that fails at start (its dependency is away) would otherwise spin; a supervisor backs off too.
      const respawn = sleep(RESPAWN_DELAY_MS).then(() =>
        this.stopping ? undefined : part === 'temporal' ? this.spawnTemporal() : this.spawnNode(part),
      );
      this.respawning[part] = respawn;
      respawn.then(
        () => {
          delete this.respawning[part];
        },
        (err: unknown) => {
          delete this.respawning[part];
          this.failure ??= err instanceof Error ? err : new Error(String(err));
        },
      );
    });
  }

  /** Start-up and respawns end here once stop() began: no process may appear behind its back. */
  private assertNotStopping(): void {
    if (this.stopping) throw new Error('the stack is stopping');
  }

  private async spawnTemporal(): Promise<void> {
    this.assertNotStopping();
    const logFile = path.join(this.dataDir, 'logs', 'temporal.log');
    const child = await spawnTemporalDevServer({
      binary: resolveBinary('temporal', { install: false }),
      dbFile: path.join(this.dataDir, 'temporal.db'),
      logFile,
      port: this.ports.temporal,
      uiPort: this.ports.ui,
      namespace: 'default',
      cwd: this.dataDir,
    });
    this.children.temporal = child;
    this.supervise('temporal', child);
    await waitForDevServer(child, this.temporalAddress, 'default', logFile, READY_TIMEOUT_MS);
  }

  private env(part: 'worker' | 'api'): NodeJS.ProcessEnv {
    const base: NodeJS.ProcessEnv = { ...process.env };
    // The stack is isolated: nothing of the caller's own duban configuration may leak in.
    for (const key of Object.keys(base)) {
      if (
        /^(DATABASE_URL|LINK_SECRET|PUBLIC_BASE_URL|PORT|HOST|LOG_LEVEL)$|^(TEMPORAL|WORKER|SMTP|DIGEST|QUIET|DISPATCH|RATE_LIMIT)_/.test(
          key,
        )
      )
        delete base[key];
    }
    return {
      ...base,
      DATABASE_URL: this.databaseUrl,
      TEMPORAL_ADDRESS: this.temporalAddress,
      TEMPORAL_NAMESPACE: 'default',
      TEMPORAL_TASK_QUEUE: 'duban',
      LINK_SECRET: this.linkSecret,
      PORT: String(this.ports.api),
      HOST: '127.0.0.1',
      PUBLIC_BASE_URL: this.apiUrl,
      TEMPORAL_UI_URL: `http://127.0.0.1:${this.ports.ui}`,
      LOG_LEVEL: this.opts.logLevel,
      ...(part === 'worker' ? this.opts.workerEnv : this.opts.apiEnv),
    };
  }

  private async spawnNode(part: 'worker' | 'api'): Promise<void> {
    this.assertNotStopping();
    const fd = this.logFd(part);
    try {
      const flags = part === 'worker' ? this.opts.workerNodeArgs : [];
      const child = await spawnChild(part, process.execPath, [...flags, '--import', 'tsx', `${part}/main.ts`], {
        cwd: PROJECT_ROOT,
        env: this.env(part),
        output: { fd },
      });
      this.children[part] = child;
      this.supervise(part, child);
    } finally {
      closeSync(fd);
    }
  }

  /** /readyz answers 200: the API runs and reaches PostgreSQL and Temporal. */
  async waitApiReady(timeoutMs = READY_TIMEOUT_MS): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = 'no answer yet';
    while (Date.now() < deadline) {
      if (this.failure) throw this.failure;
      this.assertNotStopping();
      try {
        const res = await fetch(`${this.apiUrl}/readyz`, { signal: AbortSignal.timeout(2_000) });
        if (res.status === 200) return;
        last = `${res.status} ${await res.text()}`;
      } catch (err) {
        last = err instanceof Error ? err.message : String(err);
      }
      await sleep(200);
    }
    throw new Error(`the API was not ready within ${timeoutMs / 1000} s (${last})`);
  }

  /** Stop a part (SIGKILL: crash; SIGTERM: graceful) and start it again. Returns the time it was down, ms. */
  async restart(part: Part, signal: NodeJS.Signals): Promise<number> {
    const child = this.children[part];
    const started = Date.now();
    const pending = this.respawning[part];
    if (pending) {
      // It died on its own a moment ago and the supervisor is already starting it.
      await pending;
      if (part === 'api') await this.waitApiReady();
      return Date.now() - started;
    }
    if (child) {
      this.intended.add(child);
      await stopChild(child, signal, 15_000, (m) => this.log(m));
    }
    if (part === 'temporal') await this.spawnTemporal();
    else await this.spawnNode(part);
    if (part === 'api') await this.waitApiReady();
    return Date.now() - started;
  }

  /**
   * Resolves once the current worker process polls the duban task queue (its SDK identity is pid@host), i.e.
   * it has bundled the workflows and connected. Returns how long that took from the call, ms.
   */
  async waitWorkerPolling(timeoutMs = READY_TIMEOUT_MS): Promise<number> {
    const started = Date.now();
    const client = await this.client();
    await until(
      'the worker to poll its task queue',
      async () => {
        if (this.failure) throw this.failure;
        this.assertNotStopping();
        const pid = this.pid('worker');
        if (pid === undefined || !this.isRunning('worker')) return undefined;
        try {
          const res = await client.workflowService.describeTaskQueue({
            namespace: 'default',
            taskQueue: { name: 'duban' },
            taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
          });
          return (res.pollers ?? []).some((p) => p.identity?.startsWith(`${pid}@`)) ? true : undefined;
        } catch {
          return undefined; // Temporal away for a moment
        }
      },
      timeoutMs,
      200,
    );
    return Date.now() - started;
  }

  /** Drop every PostgreSQL connection to the stack's database except the caller's. Returns how many. */
  async terminateConnections(): Promise<number> {
    return terminateConnections(this.opts.adminDatabaseUrl, this.databaseName);
  }

  async databaseBytes(): Promise<number> {
    return databaseBytes(this.pool);
  }

  /**
   * Stops everything in order; drops the database and removes the data directory unless `keep`. Safe to call
   * while the stack is still starting, and more than once: every call gets the first call's stop.
   */
  stop(opts: { keep?: boolean } = {}): Promise<void> {
    this.stopped ??= this.stopOnce(opts.keep ?? false);
    return this.stopped;
  }

  private async stopOnce(keep: boolean): Promise<void> {
    this.stopping = true;
    await this.created.catch(() => undefined);
    for (const part of ['api', 'worker', 'temporal'] as const) {
      const child = this.children[part];
      if (child) await stopChild(child, 'SIGTERM', 10_000, (m) => this.log(m)).catch(() => undefined);
    }
    // A boot in progress now fails at its next step (its processes are gone, no new one may start).
    await this.booted.catch(() => undefined);
    await this.temporalClient?.connection.close().catch(() => undefined);
    await this.pool.end().catch(() => undefined);
    if (keep) {
      this.log(`kept database ${this.databaseName} and ${this.dataDir}`);
      return;
    }
    await dropScratchDatabase(this.opts.adminDatabaseUrl, this.databaseName);
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}
