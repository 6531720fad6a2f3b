import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadLauncherConfig, type LauncherConfig } from '../config';
import { runMain } from '../config/run-main';
import {
  firstRunDemo,
  importEarlierPglite,
  LaunchError,
  localHost,
  lockDataDir,
  log,
  maskPassword,
  resolveLinkSecret,
} from './startup';
import { migrate } from '../db/migrate';
import { PROJECT_ROOT, resolveBinary } from './binaries';
import { describeExit, killAllChildrenSync, spawnChild, stopChild, type ManagedChild } from './children';
import { startEmbeddedPostgres, type EmbeddedPostgres } from './embedded-postgres';
import { removeStackFile, writeStackFile } from './stack-file';
import { assertPortsFree, type PortClaim } from './ports';
import { searchAttributeCreateCommands } from './search-attributes';
import { ensureDemoAdminToken, seedDemo } from './seed';
import {
  checkExternalTemporal,
  spawnTemporalDevServer,
  TemporalUnreachableError,
  waitForDevServer,
} from './temporal-dev-server';

/**
 * `npm start`: the whole stack on one machine — Temporal dev server, PostgreSQL (DATABASE_URL or an embedded
 * PostgreSQL server), migrations, demo seed, worker and API — and one Ctrl-C to stop it all in order.
 */

const TEMPORAL_READY_TIMEOUT_MS = 60_000;
const API_READY_TIMEOUT_MS = 90_000;
// Longer than the worker's own drain (WORKER_SHUTDOWN_GRACE_MS, 10 s) so a drain in progress is not cut short.
const STOP_GRACE_MS = 20_000;
/** The terminal and scripts/start.js may both deliver one Ctrl-C; signals this close together count once. */
const SAME_SIGNAL_WINDOW_MS = 1_000;

/** Thrown out of the start-up sequence once a stop was requested; the stop path owns the exit. */
class Stopping extends Error {
  override name = 'Stopping';
}

const write = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

let config: LauncherConfig | undefined;
let temporalAddress: string | undefined;
let databaseUrl: string | undefined;

const children: { api?: ManagedChild; worker?: ManagedChild; temporal?: ManagedChild } = {};
let embeddedPg: Promise<EmbeddedPostgres> | undefined;
let ready = false;
let stopRequested: Promise<void> | undefined;
let releaseDataDir: (() => void) | undefined;

function checkpoint(): void {
  if (stopRequested) throw new Stopping('stop requested during start-up');
}

async function stopAll(): Promise<void> {
  const stopOne = async (child: ManagedChild | undefined, signal: NodeJS.Signals) => {
    if (!child) return;
    try {
      const info = await stopChild(child, signal, STOP_GRACE_MS, log);
      log(`${child.name} stopped (${describeExit(info)})`);
    } catch (err) {
      log(`could not stop ${child.name}: ${err instanceof Error ? err.message : String(err)}`);
    }
  };
  // The API first so no new work arrives, then the worker (it drains activities), then what they both use.
  await stopOne(children.api, 'SIGTERM');
  await stopOne(children.worker, 'SIGTERM');
  await stopOne(children.temporal, 'SIGTERM');
  removeStackFile();
  // A server that failed to start has nothing to stop; its error is reported by the start-up path.
  const pg = await embeddedPg?.catch(() => undefined);
  if (pg) {
    try {
      await pg.stop();
      log('embedded PostgreSQL stopped');
    } catch (err) {
      log(`could not stop embedded PostgreSQL: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  releaseDataDir?.();
}

/** Idempotent: the first caller decides the exit code. */
function stop(code: number, reason: string): Promise<void> {
  stopRequested ??= (async () => {
    log(reason);
    await stopAll();
    process.exit(code);
  })();
  return stopRequested;
}

function installSignalHandlers(): void {
  let firstAt = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    const now = Date.now();
    if (!firstAt) {
      firstAt = now;
      void stop(0, `${signal}: stopping everything (Ctrl-C again to kill at once)`);
    } else if (now - firstAt > SAME_SIGNAL_WINDOW_MS) {
      log(`${signal} again: killing everything now`);
      killAllChildrenSync();
      process.exit(1);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);
  process.on('exit', () => {
    killAllChildrenSync();
    releaseDataDir?.();
  });
}

function watch(child: ManagedChild): void {
  void child.exited.then((info) => {
    // Before readiness the start-up loops notice the exit and report it with context.
    if (ready && !stopRequested)
      void stop(1, `${child.name} exited unexpectedly (${describeExit(info)}); stopping everything`);
  });
}

async function waitForApi(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    checkpoint();
    for (const child of [children.api, children.worker, children.temporal]) {
      if (child && !child.isRunning()) {
        const info = await child.exited;
        throw new LaunchError(
          `${child.name} exited (${describeExit(info)}) before duban was ready; see its output above`,
        );
      }
    }
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      if (res.status === 200) return;
      last = `${res.status} ${await res.text()}`;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new LaunchError(`the API did not become ready within ${timeoutMs / 1000} s (last answer from ${url}: ${last})`);
}

async function launch(cfg: LauncherConfig): Promise<void> {
  const dataDir = path.resolve(PROJECT_ROOT, cfg.DATA_DIR);
  const givenDatabaseUrl = cfg.DATABASE_URL;
  const givenTemporal = cfg.TEMPORAL_ADDRESS;
  const embedded = givenDatabaseUrl === undefined;
  const ownTemporal = givenTemporal === undefined;

  const claims: PortClaim[] = [{ variable: 'PORT', port: cfg.PORT, host: cfg.HOST }];
  if (ownTemporal) {
    claims.push({ variable: 'TEMPORAL_PORT', port: cfg.TEMPORAL_PORT, host: '127.0.0.1' });
    claims.push({ variable: 'TEMPORAL_UI_PORT', port: cfg.TEMPORAL_UI_PORT, host: '127.0.0.1' });
  }
  if (embedded) claims.push({ variable: 'EMBEDDED_PG_PORT', port: cfg.EMBEDDED_PG_PORT, host: '127.0.0.1' });
  await assertPortsFree(claims);

  mkdirSync(path.join(dataDir, 'logs'), { recursive: true });
  releaseDataDir = lockDataDir(dataDir);
  const linkSecret = resolveLinkSecret(cfg.LINK_SECRET, dataDir);

  // Temporal and PostgreSQL start side by side: a cold PostgreSQL needs a second or two for initdb.
  const temporalLog = path.join(dataDir, 'logs', 'temporal.log');
  let temporalReady: Promise<void>;
  if (givenTemporal === undefined) {
    const binary = resolveBinary('temporal', { log });
    temporalAddress = `127.0.0.1:${cfg.TEMPORAL_PORT}`;
    checkpoint();
    const temporal = await spawnTemporalDevServer({
      binary,
      dbFile: path.join(dataDir, 'temporal.db'),
      logFile: temporalLog,
      port: cfg.TEMPORAL_PORT,
      uiPort: cfg.TEMPORAL_UI_PORT,
      namespace: cfg.TEMPORAL_NAMESPACE,
      cwd: dataDir,
    });
    children.temporal = temporal;
    watch(temporal);
    log(`started temporal (pid ${temporal.pid}), log in ${temporalLog}`);
    temporalReady = waitForDevServer(
      temporal,
      temporalAddress,
      cfg.TEMPORAL_NAMESPACE,
      temporalLog,
      TEMPORAL_READY_TIMEOUT_MS,
    );
  } else {
    const address = givenTemporal;
    temporalAddress = address;
    temporalReady = checkExternalTemporal(address, cfg.TEMPORAL_NAMESPACE).then(({ missing }) => {
      if (missing.length === 0) return;
      log(`Temporal at ${address} lacks the search attributes ${missing.join(', ')}; the Temporal UI cannot filter`);
      log('by them and workflows that set them fail their tasks. Register them with:');
      for (const command of searchAttributeCreateCommands(address, cfg.TEMPORAL_NAMESPACE)) log(`  ${command}`);
    });
  }
  // Settled later; keep an early rejection from counting as unhandled while PostgreSQL starts.
  temporalReady.catch(() => undefined);

  if (givenDatabaseUrl === undefined) {
    embeddedPg = startEmbeddedPostgres({
      dataDir: path.join(dataDir, 'postgres'),
      passwordFile: path.join(dataDir, 'postgres-password'),
      logFile: path.join(dataDir, 'logs', 'postgres.log'),
      port: cfg.EMBEDDED_PG_PORT,
      log,
    });
    const pg = await embeddedPg;
    databaseUrl = pg.url;
    log(`started postgres (pid ${pg.pid}) on 127.0.0.1:${cfg.EMBEDDED_PG_PORT}, data in ${pg.dataDir}`);
    await importEarlierPglite(path.join(dataDir, 'pg'), pg.url);
  } else {
    databaseUrl = givenDatabaseUrl;
  }
  checkpoint();
  // Both servers answer before anything is written, so a wrong TEMPORAL_ADDRESS costs no half-done seed.
  await temporalReady;
  checkpoint();
  log(`Temporal ready at ${temporalAddress}`);
  await migrate(databaseUrl, log);
  checkpoint();
  if (cfg.SEED_DEMO) await seedDemo(databaseUrl, log);
  const adminTokenFile = cfg.SEED_DEMO ? await ensureDemoAdminToken(databaseUrl, dataDir, log) : undefined;
  checkpoint();

  const publicBaseUrl = cfg.PUBLIC_BASE_URL ?? `http://localhost:${cfg.PORT}`;
  const temporalUiUrl = ownTemporal ? `http://localhost:${cfg.TEMPORAL_UI_PORT}` : process.env.TEMPORAL_UI_URL;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: databaseUrl,
    TEMPORAL_ADDRESS: temporalAddress,
    TEMPORAL_NAMESPACE: cfg.TEMPORAL_NAMESPACE,
    TEMPORAL_TASK_QUEUE: cfg.TEMPORAL_TASK_QUEUE,
    LINK_SECRET: linkSecret,
    PORT: String(cfg.PORT),
    HOST: cfg.HOST,
    PUBLIC_BASE_URL: publicBaseUrl,
    LOG_LEVEL: cfg.LOG_LEVEL,
    ...(temporalUiUrl ? { TEMPORAL_UI_URL: temporalUiUrl } : {}),
  };
  const node = (name: 'worker' | 'api', entry: string) =>
    spawnChild(name, process.execPath, ['--import', 'tsx', entry], {
      cwd: PROJECT_ROOT,
      env,
      output: { prefix: `[${name}] `, write },
    });
  children.worker = await node('worker', 'worker/main.ts');
  watch(children.worker);
  log(`started worker (pid ${children.worker.pid})`);
  checkpoint();
  children.api = await node('api', 'api/main.ts');
  watch(children.api);
  log(`started api (pid ${children.api.pid})`);

  const apiUrl = `http://${localHost(cfg.HOST)}:${cfg.PORT}`;
  await waitForApi(`${apiUrl}/readyz`, API_READY_TIMEOUT_MS);
  checkpoint();
  ready = true;
  writeStackFile(dataDir, { apiUrl, databaseUrl, embeddedDatabase: embedded, pid: process.pid });
  const demo = adminTokenFile
    ? await firstRunDemo(apiUrl, readFileSync(adminTokenFile, 'utf8').trim(), cfg.DEMO_DUE)
    : [];
  checkpoint();

  const seconds = (performance.now() / 1000).toFixed(1);
  const pg = embedded
    ? `embedded server on 127.0.0.1:${cfg.EMBEDDED_PG_PORT}, data in ${path.join(dataDir, 'postgres')} (password in ${path.join(dataDir, 'postgres-password')})`
    : maskPassword(databaseUrl);
  const temporalLine = ownTemporal
    ? `Temporal UI   ${temporalUiUrl ?? ''}   (server ${temporalAddress}, namespace ${cfg.TEMPORAL_NAMESPACE})`
    : `Temporal      ${temporalAddress} (external, namespace ${cfg.TEMPORAL_NAMESPACE})${temporalUiUrl ? `, UI ${temporalUiUrl}` : ''}`;
  write(
    [
      '',
      `duban is ready (${seconds} s)`,
      `  API           ${apiUrl}`,
      `  API docs      ${apiUrl}/docs`,
      `  Dashboard     ${apiUrl}/dashboard`,
      ...(adminTokenFile
        ? [
            `  Admin token   ${adminTokenFile}   (Authorization: Bearer $(cat ${path.relative(process.cwd(), adminTokenFile) || adminTokenFile}))`,
          ]
        : []),
      `  ${temporalLine}`,
      `  PostgreSQL    ${pg}`,
      `  data          ${dataDir}`,
      ...demo,
      `  Ctrl-C stops everything`,
      '',
    ].join('\n'),
  );
}

async function main(): Promise<void> {
  installSignalHandlers();
  process.on('unhandledRejection', (err) => {
    log(`unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    void stop(1, 'stopping everything after an unexpected error');
  });
  config = loadLauncherConfig(process.env);
  try {
    await launch(config);
  } catch (err) {
    if (stopRequested) {
      // A signal or a crashed child started the stop; it exits the process when done.
      await stopRequested;
      return;
    }
    // Claim the stop path so that nothing else starts one, tidy up, then let runMain print the one line.
    stopRequested = stopAll();
    await stopRequested;
    // Printed here verbatim: run-main.ts would swap a TemporalUnreachableError that quotes a transport error for
    // its generic hint, losing the dev server's log tail.
    if (err instanceof LaunchError || err instanceof TemporalUnreachableError) {
      process.stderr.write(`duban: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
}

runMain(main, () => ({
  databaseUrl: databaseUrl ?? config?.DATABASE_URL ?? process.env.DATABASE_URL,
  temporalAddress: temporalAddress ?? config?.TEMPORAL_ADDRESS ?? process.env.TEMPORAL_ADDRESS,
}));
