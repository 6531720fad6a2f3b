import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../launcher/binaries';
import { readStackFile, type StackInfo } from '../launcher/stack-file';

type Env = Record<string, string | undefined>;

/** DATA_DIR of `npm start` in this checkout (default .data). */
export function dataDirOf(env: Env): string {
  return path.resolve(PROJECT_ROOT, env.DATA_DIR?.trim() || '.data');
}

/** The stack `npm start` runs from this checkout (DATA_DIR, default .data), if one is running. */
export function runningStack(env: Env): StackInfo | undefined {
  return readStackFile(dataDirOf(env));
}

/** DATABASE_URL, else the embedded database of a running `npm start`. */
export function databaseUrlFor(env: Env): string | undefined {
  return env.DATABASE_URL?.trim() || runningStack(env)?.databaseUrl;
}

const trimSlash = (url: string) => url.replace(/\/+$/, '');

/** DUBAN_API_URL, else the API of a running `npm start`, else the default port. */
export function apiUrlFor(env: Env): string {
  return trimSlash(env.DUBAN_API_URL?.trim() || runningStack(env)?.apiUrl || 'http://localhost:3000');
}

/** The API token to send, or why the one npm start keeps was not used. */
export type ApiToken = { token: string } | { token: undefined; problem?: string };

/**
 * DUBAN_TOKEN, else — when the API in use is the one of a running `npm start` — the admin token that npm start
 * keeps in DATA_DIR/admin-token. That file is used only while it is readable by its owner alone and owned by
 * the user running the command, and it is never sent to another API (DUBAN_API_URL pointing elsewhere).
 */
export function apiTokenFor(env: Env): ApiToken {
  const given = env.DUBAN_TOKEN?.trim();
  if (given) return { token: given };
  const stack = runningStack(env);
  if (!stack || trimSlash(stack.apiUrl) !== apiUrlFor(env)) return { token: undefined };
  const file = path.join(dataDirOf(env), 'admin-token');
  let mode: number;
  let uid: number;
  try {
    ({ mode, uid } = statSync(file));
  } catch {
    return { token: undefined }; // npm start with SEED_DEMO=false writes none
  }
  const me = process.getuid?.();
  if ((mode & 0o077) !== 0 || (me !== undefined && uid !== me)) {
    return {
      token: undefined,
      problem:
        `${file} 不是只有本用户可读（权限 ${(mode & 0o777).toString(8)}），不会使用它：请执行 chmod 600 ${file}，或设置 DUBAN_TOKEN / ` +
        `${file} is readable by others or owned by another user (mode ${(mode & 0o777).toString(8)}): not used; chmod 600 it or set DUBAN_TOKEN`,
    };
  }
  const token = readFileSync(file, 'utf8').trim();
  return token ? { token } : { token: undefined };
}
