import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { Connection } from '@temporalio/client';
import { describeExit, spawnChild, type ManagedChild } from './children';
import { missingSearchAttributes, searchAttributeFlags } from './search-attributes';

/** Named so that config/run-main.ts prints the message as one line instead of a stack. */
export class TemporalUnreachableError extends Error {
  override name = 'TemporalUnreachableError';
}

export interface TemporalDevServerOptions {
  binary: string;
  dbFile: string;
  logFile: string;
  port: number;
  uiPort: number;
  namespace: string;
  cwd: string;
}

export async function spawnTemporalDevServer(options: TemporalDevServerOptions): Promise<ManagedChild> {
  const args = [
    'server',
    'start-dev',
    '--db-filename',
    options.dbFile,
    '--ip',
    '127.0.0.1',
    '--port',
    String(options.port),
    '--ui-port',
    String(options.uiPort),
    '--ui-disable-news-fetch',
    '--namespace',
    options.namespace,
    '--log-level',
    'warn',
    // The dev server's SQLite store has one connection; WAL keeps UI reads from stalling workflow writes.
    '--sqlite-pragma',
    'journal_mode=WAL',
    '--sqlite-pragma',
    'synchronous=NORMAL',
    ...searchAttributeFlags(),
  ];
  const fd = openSync(options.logFile, 'a');
  try {
    writeSync(fd, `\n--- ${new Date().toISOString()} ${options.binary} ${args.join(' ')}\n`);
    return await spawnChild('temporal', options.binary, args, { cwd: options.cwd, env: process.env, output: { fd } });
  } finally {
    // The child holds its own copy of the descriptor.
    closeSync(fd);
  }
}

export function logTail(file: string, lines = 15): string {
  try {
    const all = readFileSync(file, 'utf8').trimEnd().split('\n');
    return all
      .slice(-lines)
      .map((l) => `    ${l}`)
      .join('\n');
  } catch {
    return '    (no log)';
  }
}

async function missingAttributes(connection: Connection, namespace: string): Promise<string[]> {
  const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
  return missingSearchAttributes(customAttributes ?? {});
}

async function withConnection<T>(address: string, timeoutMs: number, fn: (c: Connection) => Promise<T>): Promise<T> {
  const connection = await Connection.connect({ address, connectTimeout: timeoutMs });
  try {
    return await fn(connection);
  } finally {
    await connection.close();
  }
}

/**
 * Wait until the dev server answers and has registered duban's search attributes in `namespace`.
 * Fails early when the process exits, and always with the end of its log.
 */
export async function waitForDevServer(
  child: ManagedChild,
  address: string,
  namespace: string,
  logFile: string,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    if (!child.isRunning()) {
      const info = await child.exited;
      throw new TemporalUnreachableError(
        `the Temporal dev server exited (${describeExit(info)}) before it was ready; end of ${logFile}:\n${logTail(logFile)}`,
      );
    }
    try {
      const missing = await withConnection(address, 1_000, (c) => missingAttributes(c, namespace));
      if (missing.length === 0) return;
      last = `search attributes not registered yet: ${missing.join(', ')}`;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new TemporalUnreachableError(
    `the Temporal dev server at ${address} was not ready within ${Math.round(timeoutMs / 1000)} s (${last}); ` +
      `end of ${logFile}:\n${logTail(logFile)}`,
  );
}

/** For a Temporal server the launcher does not own: reachable now, and which of duban's attributes it lacks. */
export async function checkExternalTemporal(address: string, namespace: string): Promise<{ missing: string[] }> {
  let connection: Connection;
  try {
    connection = await Connection.connect({ address, connectTimeout: 5_000 });
  } catch (err) {
    throw new TemporalUnreachableError(
      `Temporal is not reachable at ${address} (${err instanceof Error ? err.message : String(err)}): ` +
        'start it or fix TEMPORAL_ADDRESS (leave it unset and npm start runs a dev server).',
    );
  }
  try {
    return { missing: await missingAttributes(connection, namespace) };
  } catch (err) {
    throw new TemporalUnreachableError(
      `Temporal at ${address} answers, but listing the search attributes of namespace ${namespace} failed ` +
        `(${err instanceof Error ? err.message : String(err)}): check TEMPORAL_NAMESPACE.`,
    );
  } finally {
    await connection.close();
  }
}
