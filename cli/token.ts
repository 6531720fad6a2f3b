import type { Pool } from 'pg';
import { ApiConfigSchema } from '../config';
import { ping } from '../db/admin-repo';
import { createPool } from '../db/pool';
import { migrate } from '../db/migrate';
import { createToken, isApiRole, listTokens, revokeToken, type TokenInfo } from '../db/tokens-repo';
import { toShanghaiIso } from '../domain/schedule';
import type { CommandOutput } from './plan-parse';
import { apiUrlFor, databaseUrlFor } from './stack';

type Env = Record<string, string | undefined>;

export const USAGE = [
  '用法 / usage:',
  '  duban token create --role admin|viewer [--name <名称>]   创建 API 令牌（只显示一次） / create an API token (shown once)',
  '  duban token list                                       列出令牌（不含密文） / list tokens (never their secrets)',
  '  duban token revoke <id>                                吊销令牌 / revoke a token',
  '  admin 可读写，viewer 只读。使用 npm start 的内置数据库，或环境变量 DATABASE_URL。 / admin reads and writes, viewer only reads. Uses the database of a running npm start, or DATABASE_URL.',
  '',
].join('\n');

/** A failure the user can fix; printed as one line, exit code 1. */
class CommandError extends Error {}

/** `duban token create --role admin|viewer [--name N]`. Exit codes: 0 created, 1 database problem, 2 wrong usage. */
export async function tokenCreateCommand(args: string[], out: CommandOutput, env: Env = process.env): Promise<number> {
  let role: string | undefined;
  let name: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    const [flag, inline] =
      arg.startsWith('--') && arg.includes('=')
        ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)]
        : [arg, undefined];
    if (flag === '-h' || flag === '--help') {
      out.stdout(USAGE);
      return 0;
    }
    if (flag === '--role' || flag === '--name') {
      const value = inline ?? args[++i];
      if (value === undefined || value === '') return usage(out, `${flag} 需要一个值 / ${flag} needs a value`);
      if (flag === '--role') role = value;
      else name = value.trim();
      continue;
    }
    return usage(out, `未知参数 / unknown argument: ${arg}`);
  }
  if (role === undefined)
    return usage(out, '请用 --role 指定角色 admin 或 viewer / choose a role with --role admin|viewer');
  if (!isApiRole(role)) return usage(out, `角色只能是 admin 或 viewer，而不是“${role}” / role must be admin or viewer`);
  if (name !== undefined && (name.length === 0 || name.length > 100)) {
    return usage(out, '名称应为 1–100 个字符 / --name must be 1–100 characters');
  }
  const chosenRole = role;
  const tokenName = name ?? `${chosenRole}-${toShanghaiIso(Date.now()).slice(0, 10)}`;

  return withDatabase(env, out, async (pool) => {
    const created = await createToken(pool, { name: tokenName, role: chosenRole });
    const base = publicBaseUrl(env);
    out.stdout(
      [
        `已创建令牌 #${created.id}（${created.role}，名称“${created.name}”） / created token #${created.id} (${created.role}, "${created.name}")`,
        '',
        `  ${created.token}`,
        '',
        '令牌只显示这一次，请立即妥善保存；遗失后请吊销并重新创建。 / This is the only time the token is shown: store it now.',
        '用法 / usage: 在请求头加 / send the header',
        `  Authorization: Bearer ${created.token}`,
        `例如 / e.g.: curl -H 'Authorization: Bearer ${created.token}' ${base}/api/plans`,
        `API 文档的 Authorize 按钮也接受它 / the Authorize button on ${base}/docs takes it too.`,
        '',
      ].join('\n'),
    );
    return 0;
  });
}

/** `duban token list`. */
export async function tokenListCommand(args: string[], out: CommandOutput, env: Env = process.env): Promise<number> {
  if (args.includes('-h') || args.includes('--help')) {
    out.stdout(USAGE);
    return 0;
  }
  if (args.length > 0) return usage(out, `未知参数 / unknown argument: ${args.join(' ')}`);
  return withDatabase(env, out, async (pool) => {
    const tokens = await listTokens(pool);
    if (tokens.length === 0) {
      out.stdout(
        '还没有令牌：用 duban token create --role admin 创建 / no tokens yet: create one with duban token create --role admin\n',
      );
      return 0;
    }
    out.stdout(formatTokens(tokens));
    return 0;
  });
}

/** `duban token revoke <id>`. Revoking twice is not an error; an unknown id is (exit 1). */
export async function tokenRevokeCommand(args: string[], out: CommandOutput, env: Env = process.env): Promise<number> {
  if (args.includes('-h') || args.includes('--help')) {
    out.stdout(USAGE);
    return 0;
  }
  const [raw, ...rest] = args;
  if (raw === undefined || rest.length > 0) return usage(out, '请给出一个令牌编号 / give exactly one token id');
  if (!/^[1-9]\d{0,14}$/.test(raw))
    return usage(out, `令牌编号应为正整数，而不是“${raw}” / the token id must be a positive integer`);
  const id = Number(raw);
  return withDatabase(env, out, async (pool) => {
    const result = await revokeToken(pool, id);
    if (result === 'not-found') {
      throw new CommandError(
        `没有编号为 ${id} 的令牌（duban token list 可查看） / no token ${id} (see duban token list)`,
      );
    }
    out.stdout(
      result === 'revoked'
        ? `已吊销令牌 #${id}，它从现在起不能再使用 / token #${id} revoked; it no longer works\n`
        : `令牌 #${id} 早已吊销 / token #${id} was already revoked\n`,
    );
    return 0;
  });
}

function usage(out: CommandOutput, problem: string): number {
  out.stderr(`${problem}\n${USAGE}`);
  return 2;
}

/**
 * Validates DATABASE_URL, checks the server answers (with a timeout, so a wrong host fails in
 * seconds rather than hanging), migrates, runs `fn` and closes the pool. Problems become one line.
 */
async function withDatabase(env: Env, out: CommandOutput, fn: (pool: Pool) => Promise<number>): Promise<number> {
  const raw = databaseUrlFor(env);
  if (!raw) {
    out.stderr(
      '找不到数据库：请先启动 npm start（命令会自动使用它的内置数据库），或设置 DATABASE_URL（例如 postgres://user@127.0.0.1:5432/duban） / ' +
        'no database: start the stack with npm start (its embedded database is found automatically) or set DATABASE_URL\n',
    );
    return 1;
  }
  const parsed = ApiConfigSchema.shape.DATABASE_URL.safeParse(raw);
  if (!parsed.success) {
    out.stderr(`DATABASE_URL 无效 / DATABASE_URL is invalid: ${parsed.error.issues[0]?.message ?? 'not a URL'}\n`);
    return 1;
  }
  const url = parsed.data;
  const pool = createPool(url, { max: 2, connectionTimeoutMillis: 5_000 });
  try {
    try {
      await ping(pool);
      await migrate(url);
    } catch (err) {
      out.stderr(`无法连接数据库 / cannot use the database at ${redact(url)}: ${describeError(err)}\n`);
      return 1;
    }
    return await fn(pool);
  } catch (err) {
    if (err instanceof CommandError) {
      out.stderr(`${err.message}\n`);
      return 1;
    }
    throw err;
  } finally {
    await pool.end();
  }
}

/** The URL without its password, for messages. */
function redact(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.toString();
}

/** pg and Node errors, including the AggregateError a refused dual-stack connect gives (whose message is empty). */
function describeError(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) return describeError(err.errors[0]);
  if (err instanceof Error) {
    const code = 'code' in err && typeof err.code === 'string' ? err.code : undefined;
    if (err.message) return code && !err.message.includes(code) ? `${err.message} (${code})` : err.message;
    return code ?? err.name;
  }
  return String(err);
}

function publicBaseUrl(env: Env): string {
  const parsed = ApiConfigSchema.shape.PUBLIC_BASE_URL.safeParse(env.PUBLIC_BASE_URL || undefined);
  return env.PUBLIC_BASE_URL && parsed.success ? parsed.data.replace(/\/+$/, '') : apiUrlFor(env);
}

function formatTokens(tokens: TokenInfo[]): string {
  const time = (d: Date | null) => (d ? toShanghaiIso(d.getTime()).slice(0, 16).replace('T', ' ') : '—');
  const header = ['编号 id', '角色 role', '名称 name', '创建 created', '最近使用 last used', '状态 state'];
  const rows = [
    header,
    ...tokens.map((t) => [
      `#${t.id}`,
      t.role,
      t.name,
      time(t.createdAt),
      time(t.lastUsedAt),
      t.revokedAt ? `已吊销 revoked ${time(t.revokedAt)}` : '有效 active',
    ]),
  ];
  const widths = header.map((_, col) => Math.max(...rows.map((r) => displayWidth(r[col] ?? ''))));
  const line = (cells: string[]) =>
    cells
      .map((c, col) => (col === cells.length - 1 ? c : c + ' '.repeat((widths[col] ?? 0) - displayWidth(c))))
      .join('  ');
  return `${rows.map(line).join('\n')}\n（时间为北京时间 / times are Asia/Shanghai）\n`;
}

/** Terminal columns: CJK characters take two. */
function displayWidth(s: string): number {
  let w = 0;
  for (const ch of s)
    w += /[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]/.test(ch)
      ? 2
      : 1;
  return w;
}
