import path from 'node:path';
import { PROJECT_ROOT } from '../launcher/binaries';
import { readStackFile, type StackInfo } from '../launcher/stack-file';

type Env = Record<string, string | undefined>;

/** The stack `npm start` runs from this checkout (DATA_DIR, default .data), if one is running. */
export function runningStack(env: Env): StackInfo | undefined {
  return readStackFile(path.resolve(PROJECT_ROOT, env.DATA_DIR?.trim() || '.data'));
}

/** DATABASE_URL, else the embedded database of a running `npm start`. */
export function databaseUrlFor(env: Env): string | undefined {
  return env.DATABASE_URL?.trim() || runningStack(env)?.databaseUrl;
}

/** DUBAN_API_URL, else the API of a running `npm start`, else the default port. */
export function apiUrlFor(env: Env): string {
  return (env.DUBAN_API_URL?.trim() || runningStack(env)?.apiUrl || 'http://localhost:3000').replace(/\/+$/, '');
}
