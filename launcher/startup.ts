import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../config';
import { demoLines, startDemo } from './demo';
import { importPglite } from './pglite-import';

/** What the launcher's start-up needs besides its own sequence: the data directory's lock and secret, messages, the demo. */

/** A failure the launcher explains in one line; config/run-main.ts knows no name for it. */
export class LaunchError extends Error {
  override name = 'LaunchError';
}

export const log = (msg: string): void => {
  process.stdout.write(`[launcher] ${msg}\n`);
};

/** One launcher per data directory: two PostgreSQL or SQLite writers on the same files would corrupt them. */
export function lockDataDir(dataDir: string): () => void {
  const file = path.join(dataDir, 'launcher.pid');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        try {
          unlinkSync(file);
        } catch {
          // Already gone: nothing to release.
        }
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number(readFileSync(file, 'utf8').trim());
      if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) {
        throw new ConfigError(
          'DATA_DIR',
          `(${dataDir}) is in use by another duban launcher (pid ${pid}): stop it, or set DATA_DIR to another directory`,
        );
      }
      unlinkSync(file);
    }
  }
  throw new ConfigError('DATA_DIR', `(${dataDir}): could not create ${file}`);
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** LINK_SECRET signs reply links, so it must survive restarts: configured, else kept in DATA_DIR. */
export function resolveLinkSecret(configured: string | undefined, dataDir: string): string {
  if (configured) return configured;
  const file = path.join(dataDir, 'link-secret');
  try {
    const stored = readFileSync(file, 'utf8').trim();
    if (stored.length < 32) {
      throw new ConfigError(
        'LINK_SECRET',
        `is unset and ${file} holds fewer than 32 characters: delete the file to generate a new secret, or set LINK_SECRET`,
      );
    }
    return stored;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const secret = randomBytes(32).toString('hex');
  writeFileSync(file, `${secret}\n`, { mode: 0o600, flag: 'wx' });
  log(`generated LINK_SECRET into ${file}`);
  return secret;
}

export function maskPassword(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable URL)';
  }
}

/** Where to reach a server bound to `host` from this machine. */
export function localHost(host: string): string {
  if (host === '0.0.0.0' || host === '127.0.0.1' || host === 'localhost') return 'localhost';
  if (host === '::' || host === '::1') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

/** Earlier versions kept the embedded database in PGlite (DATA_DIR/pg): move it into the real server once. */
export async function importEarlierPglite(pgliteDir: string, url: string): Promise<void> {
  if (!existsSync(path.join(pgliteDir, 'PG_VERSION'))) return;
  log(`importing the earlier embedded database (PGlite) from ${pgliteDir} into PostgreSQL…`);
  try {
    const result = await importPglite(pgliteDir, url, log);
    log(`imported ${result.rows} rows in ${result.tables} tables; the old files are kept in ${result.keptAt}`);
  } catch (err) {
    throw new LaunchError(
      `could not import the earlier embedded database in ${pgliteDir} (${err instanceof Error ? err.message : String(err)}). ` +
        `Its files are untouched: start again to retry, or move it aside (mv ${pgliteDir} ${pgliteDir}.old) to start with an empty database.`,
    );
  }
}

/**
 * On a data directory without any cycle yet, a live rehearsal on today's date (launcher/demo.ts) and the lines that
 * show three of its reply links. A demo that cannot start is reported, not fatal: the stack itself is fine.
 */
export async function firstRunDemo(apiUrl: string, token: string, dueMs: number): Promise<string[]> {
  try {
    const res = await fetch(`${apiUrl}/api/cycles`, { headers: { authorization: `Bearer ${token}` } });
    if (!res.ok || ((await res.json()) as unknown[]).length > 0) return [];
    log("starting the live demo: a rehearsal (演练) cycle on today's date");
    return demoLines(await startDemo({ apiUrl, token, log, dueMs }));
  } catch (err) {
    log(`the demo did not start (${err instanceof Error ? err.message : String(err)}); start it with: npx duban demo`);
    return [];
  }
}
