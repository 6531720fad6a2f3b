import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * `npm start` writes DATA_DIR/stack.json (0600) once the stack is ready and removes it when it stops, so the CLI
 * (`npx duban token create`, `cycle start`, …) finds the running stack — its API and, for the embedded database,
 * the database URL with its password — without the user having to know either.
 */

export interface StackInfo {
  apiUrl: string;
  databaseUrl: string;
  embeddedDatabase: boolean;
  pid: number;
}

export const STACK_FILE = 'stack.json';
let written: string | undefined;

export function writeStackFile(dataDir: string, info: StackInfo): void {
  written = path.join(dataDir, STACK_FILE);
  writeFileSync(written, `${JSON.stringify(info, null, 2)}\n`, { mode: 0o600 });
}

export function removeStackFile(): void {
  if (written) rmSync(written, { force: true });
  written = undefined;
}

/** The running stack of this data directory, or undefined when none is running (or its file is unreadable). */
export function readStackFile(dataDir: string): StackInfo | undefined {
  let info: Partial<StackInfo>;
  try {
    info = JSON.parse(readFileSync(path.join(dataDir, STACK_FILE), 'utf8')) as Partial<StackInfo>;
  } catch {
    return undefined;
  }
  if (typeof info.apiUrl !== 'string' || typeof info.databaseUrl !== 'string' || typeof info.pid !== 'number') {
    return undefined;
  }
  try {
    process.kill(info.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return undefined; // the launcher is gone
  }
  return {
    apiUrl: info.apiUrl,
    databaseUrl: info.databaseUrl,
    embeddedDatabase: info.embeddedDatabase === true,
    pid: info.pid,
  };
}
