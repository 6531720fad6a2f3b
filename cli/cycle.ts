import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { toShanghaiIso } from '../domain/schedule';
import { displayWidth, type CommandOutput } from './plan-parse';
import { apiTokenFor, apiUrlFor } from './stack';

/**
 * `duban cycle list|start|status` and `duban report`: the office's commands, over the HTTP API (the same
 * rules, validation and audit as every other client). DUBAN_API_URL (default: the API of a running npm start,
 * else http://localhost:3000) and DUBAN_TOKEN (an API token: npx duban token create; default: the admin token
 * of a running npm start) say where and as whom.
 */

type Env = Record<string, string | undefined>;

class CliError extends Error {}

interface Api {
  get(path: string): Promise<Response>;
  post(path: string, body: unknown): Promise<Response>;
}

function api(env: Env): Api {
  const base = apiUrlFor(env);
  const found = apiTokenFor(env);
  if (found.token === undefined) {
    throw new CliError(
      found.problem ??
        '需要 API 令牌：请设置 DUBAN_TOKEN（用 npx duban token create --role admin 创建），或在本目录运行 npm start（自动使用它的管理员令牌） / ' +
          'set DUBAN_TOKEN to an API token, or run npm start in this checkout (its admin token is used)',
    );
  }
  const token = found.token;
  const call = async (path: string, init: RequestInit) => {
    try {
      return await fetch(`${base}${path}`, {
        ...init,
        headers: { authorization: `Bearer ${token}`, ...(init.body ? { 'content-type': 'application/json' } : {}) },
        signal: AbortSignal.timeout(30_000),
      });
    } catch (err) {
      throw new CliError(
        `无法连接督办 API ${base}：请先启动（npm start）或设置 DUBAN_API_URL / cannot reach the API at ${base} (${err instanceof Error ? err.message : String(err)})`,
      );
    }
  };
  return {
    get: (path) => call(path, { method: 'GET' }),
    post: (path, body) => call(path, { method: 'POST', body: JSON.stringify(body) }),
  };
}

async function errorMessage(res: Response): Promise<string> {
  const text = await res.text();
  try {
    const body = JSON.parse(text) as { error?: { message?: string; details?: unknown } };
    const details = Array.isArray(body.error?.details)
      ? (body.error.details as unknown[])
          .slice(0, 20)
          .map(
            (d) =>
              `  - ${typeof d === 'object' && d !== null && 'message' in d ? String(d.message) : JSON.stringify(d)}`,
          )
          .join('\n')
      : '';
    return `${body.error?.message ?? text}${details ? `\n${details}` : ''}`;
  } catch {
    return `HTTP ${res.status}: ${text.slice(0, 300)}`;
  }
}

function parseYear(value: string | undefined): number {
  const year = Number(value);
  if (!value || !Number.isInteger(year) || year < 2000 || year > 2100)
    throw new CliError(`年度应为 2000–2100 之间的整数，收到 “${value ?? ''}”`);
  return year;
}

const API_AND_TOKEN = [
  'API：DUBAN_API_URL，否则本目录正在运行的 npm start 的 API，否则 http://localhost:3000',
  '  / the API: DUBAN_API_URL, else the one of npm start running in this checkout, else http://localhost:3000',
  '令牌：DUBAN_TOKEN（npx duban token create 创建），否则该 npm start 的管理员令牌（DATA_DIR/admin-token）',
  '  / token: DUBAN_TOKEN (npx duban token create), else the admin token of that npm start (DATA_DIR/admin-token)',
];

const usageOf = (lines: string[]): string => ['用法 / usage:', ...lines, '', ...API_AND_TOKEN, ''].join('\n');

export const USAGE = {
  list: usageOf([
    '  duban cycle list [--json]',
    '    列出已启动的年度周期：计划、状态、开始与结束时间、红黄绿灯数 / the cycles started: plan, state, times, lights',
    '    --json  输出 API 的 JSON / print the JSON of GET /api/cycles',
  ]),
  start: usageOf([
    '  duban cycle start <年度 year> [--plan <编号 id>] [--options <文件 file.json>] [--no-wait]',
    '    启动年度周期并显示进度，直到每条要点都在运行 / start the annual cycle and show progress until every work point runs',
    '    --plan     计划编号，默认该年度最近导入的计划 / plan id, default: the latest plan imported for the year',
    '    --options  周期参数（各期、截止日、提醒与督办时限）的 JSON 文件 / JSON file of cycle options (periods, dates, offsets)',
    '    --no-wait  启动后立即返回 / return once started',
  ]),
  status: usageOf([
    '  duban cycle status <年度 year> [--json]',
    '    每条要点的灯、阶段和逾期单位 / per work point: light, phase, overdue units',
    '    --json  输出 API 的 JSON / print the JSON of GET /api/cycles/<year>',
  ]),
  planCopy: usageOf([
    '  duban plan copy <计划编号 plan id> --year <年度 year>',
    '    把计划带到另一年度（同样的要点，记为由原计划派生），以便启动该年度周期 / carry a plan into another year',
  ]),
  report: usageOf([
    '  duban report <年度 year> [--format csv|xlsx|html|json] [--out <文件 file>|-]',
    '    年度报告，默认 JSON，保存为 duban-<年度>-annual-report.<格式> / the annual report (default json), saved to that file',
    '    --out -  输出到终端（xlsx 除外） / write to the terminal (not xlsx)',
  ]),
} as const;

/** The commands of `duban cycle`, for `duban cycle --help`. */
export const CYCLE_USAGE = usageOf([
  '  duban cycle list [--json]',
  '      已启动的年度周期 / the cycles started',
  '  duban cycle start <年度 year> [--plan N] [--options file.json] [--no-wait]',
  '      启动年度周期并显示进度 / start the annual cycle and show its progress',
  '  duban cycle status <年度 year> [--json]',
  '      每条要点的灯、阶段、逾期单位 / per work point: light, phase, overdue units',
  '  duban report <年度 year> [--format csv|xlsx|html|json] [--out file]',
  '      年度报告 / the annual report',
  '每个命令的详情 / details of each command: duban cycle start --help, …',
]);

const HELP = { help: { type: 'boolean', short: 'h' } } as const;

/** Runs a command: --help prints its usage (exit 0), wrong arguments print it with the problem (exit 2). */
async function run(out: CommandOutput, usage: string, fn: () => Promise<number>): Promise<number> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof HelpRequested) {
      out.stdout(usage);
      return 0;
    }
    if (err instanceof CliError) {
      out.stderr(`duban: ${err.message}\n`);
      return 1;
    }
    const code = (err as { code?: unknown } | null)?.code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_')) {
      out.stderr(`duban: 参数有误 / wrong arguments: ${(err as Error).message}\n\n${usage}`);
      return 2;
    }
    throw err;
  }
}

class HelpRequested extends Error {}

/** Stops the command when --help / -h was given. */
function helpRequested(values: { help?: boolean | undefined }): void {
  if (values.help) throw new HelpRequested();
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface CycleView {
  year: number;
  workflowId: string;
  temporalUi: string;
  workPoints: { number: number; workflowId: string; phase: string; light: string; overdueUnits: string[] }[];
}

export async function cycleStartCommand(
  args: string[],
  out: CommandOutput,
  env: Env = process.env,
  pollMs = 500,
): Promise<number> {
  return run(out, USAGE.start, async () => {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: { ...HELP, plan: { type: 'string' }, options: { type: 'string' }, 'no-wait': { type: 'boolean' } },
    });
    helpRequested(values);
    const year = parseYear(positionals[0]);
    const body: Record<string, unknown> = { year };
    if (values.plan) body.planId = Number(values.plan);
    if (values.options) {
      try {
        body.options = JSON.parse(readFileSync(values.options, 'utf8')) as unknown;
      } catch (err) {
        throw new CliError(
          `无法读取周期参数文件 ${values.options}：${err instanceof Error ? err.message : String(err)}`,
        );
      }
    }
    const client = api(env);
    const requestedAt = Date.now();
    const res = await client.post('/api/cycles', body);
    if (res.status === 409) {
      const existing = (await res.json()) as { workflowId: string; runId: string; temporalUi: string };
      out.stdout(
        `${year} 年度周期已经启动，不会重复启动：${existing.workflowId} (${existing.runId})\n${existing.temporalUi}\n`,
      );
      return 0;
    }
    if (res.status !== 202) throw new CliError(await errorMessage(res));
    const started = (await res.json()) as { workflowId: string; workPoints: string[]; temporalUi: string };
    const total = started.workPoints.length;
    out.stdout(`已启动 ${started.workflowId}，共 ${total} 项要点\n${started.temporalUi}\n`);
    if (values['no-wait']) return 0;
    // Progress: each work point appears in the projection once its workflow runs and sent its assignment notices.
    let last = -1;
    const deadline = Date.now() + 10 * 60_000;
    while (Date.now() < deadline) {
      const view = await client.get(`/api/cycles/${year}`);
      const n = view.ok ? ((await view.json()) as CycleView).workPoints.length : 0;
      if (n !== last) {
        out.stdout(`  要点已运行 ${n}/${total}\n`);
        last = n;
      }
      if (n >= total) {
        const seconds = ((Date.now() - requestedAt) / 1000).toFixed(1);
        out.stdout(
          `  全部 ${total} 项要点已运行，交办通知已入库：用时 ${seconds} 秒 / all ${total} work points running, assignment notices recorded: ${seconds} s\n`,
        );
        return 0;
      }
      // Fine-grained while a launch is expected to finish (the seed plan takes under a second), then pollMs.
      await sleep(Date.now() - requestedAt < 5_000 ? Math.min(pollMs, 100) : pollMs);
    }
    throw new CliError(
      `${total} 项要点中只有 ${last} 项在 10 分钟内开始运行：请检查 worker 是否在运行（npm run worker）`,
    );
  });
}

const LIGHT: Record<string, string> = { red: '红', yellow: '黄', green: '绿' };

/** `duban plan copy <id> --year <y>`: POST /api/plans/:id/copy. */
export async function planCopyCommand(args: string[], out: CommandOutput, env: Env = process.env): Promise<number> {
  return run(out, USAGE.planCopy, async () => {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: { ...HELP, year: { type: 'string' } },
    });
    helpRequested(values);
    const id = Number(positionals[0]);
    if (!Number.isInteger(id) || id < 1)
      throw new CliError(`计划编号应为正整数 / expected a plan id, got "${positionals[0] ?? ''}"`);
    const year = parseYear(values.year);
    const res = await api(env).post(`/api/plans/${id}/copy`, { year });
    if (!res.ok) throw new CliError(await errorMessage(res));
    const copy = (await res.json()) as { id: number; created: boolean };
    out.stdout(
      copy.created
        ? `已将计划 ${id} 带到 ${year} 年：新计划编号 ${copy.id} / plan ${id} carried into ${year} as plan ${copy.id}\n`
        : `计划 ${id} 已带到过 ${year} 年：计划编号 ${copy.id} / plan ${id} was already carried into ${year}: plan ${copy.id}\n`,
    );
    out.stdout(
      `启动该年度：duban cycle start ${year} --plan ${copy.id} / start the year: duban cycle start ${year} --plan ${copy.id}\n`,
    );
    return 0;
  });
}

export async function cycleStatusCommand(args: string[], out: CommandOutput, env: Env = process.env): Promise<number> {
  return run(out, USAGE.status, async () => {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: { ...HELP, json: { type: 'boolean' } },
    });
    helpRequested(values);
    const year = parseYear(positionals[0]);
    const res = await api(env).get(`/api/cycles/${year}`);
    if (!res.ok) throw new CliError(await errorMessage(res));
    const view = (await res.json()) as CycleView;
    if (values.json) {
      out.stdout(`${JSON.stringify(view, null, 2)}\n`);
      return 0;
    }
    const count = (l: string) => view.workPoints.filter((w) => w.light === l).length;
    out.stdout(
      `${year} 年度周期 ${view.workflowId}：红 ${count('red')} · 黄 ${count('yellow')} · 绿 ${count('green')}\n`,
    );
    for (const w of view.workPoints) {
      out.stdout(
        `  ${String(w.number).padStart(2)}  ${LIGHT[w.light] ?? w.light}  ${w.phase.padEnd(9)} ${w.overdueUnits.length > 0 ? `逾期：${w.overdueUnits.join('、')}` : ''}\n`,
      );
    }
    return 0;
  });
}

interface CycleSummary {
  year: number;
  planId: number;
  workflowId: string;
  startedAt: string;
  finishedAt: string | null;
  workPoints: number;
  lights: { green: number; yellow: number; red: number };
  /** A rehearsal (演练); absent from older APIs. */
  drill?: boolean;
}

/** Minutes in Beijing time, like every date the office reads. */
const shanghaiMinute = (instant: string): string => toShanghaiIso(Date.parse(instant)).slice(0, 16).replace('T', ' ');

function cycleState(c: CycleSummary): string {
  if (c.finishedAt) return '已结束 finished';
  const running = c.lights.green + c.lights.yellow + c.lights.red;
  return running < c.workPoints ? `启动中 starting ${running}/${c.workPoints}` : '进行中 running';
}

/** `duban cycle list [--json]`: every cycle started, newest year first (GET /api/cycles; viewers may read it). */
export async function cycleListCommand(args: string[], out: CommandOutput, env: Env = process.env): Promise<number> {
  return run(out, USAGE.list, async () => {
    const { values } = parseArgs({ args, options: { ...HELP, json: { type: 'boolean' } } });
    helpRequested(values);
    const res = await api(env).get('/api/cycles');
    if (!res.ok) throw new CliError(await errorMessage(res));
    const cycles = (await res.json()) as CycleSummary[];
    if (values.json) {
      out.stdout(`${JSON.stringify(cycles, null, 2)}\n`);
      return 0;
    }
    if (cycles.length === 0) {
      out.stdout(
        '还没有启动任何年度周期：用 duban cycle start <年度> 启动 / no cycle started yet: duban cycle start <year>\n',
      );
      return 0;
    }
    const header = [
      '年度 year',
      '计划 plan',
      '状态 state',
      '开始 started',
      '结束 finished',
      '红/黄/绿 lights',
      '流程 workflow',
    ];
    const rows = [
      header,
      ...cycles.map((c) => [
        c.drill ? `${c.year} 演练` : String(c.year),
        `#${c.planId}`,
        cycleState(c),
        shanghaiMinute(c.startedAt),
        c.finishedAt ? shanghaiMinute(c.finishedAt) : '—',
        `${c.lights.red}/${c.lights.yellow}/${c.lights.green}`,
        c.workflowId,
      ]),
    ];
    const widths = header.map((_, col) => Math.max(...rows.map((r) => displayWidth(r[col] ?? ''))));
    const line = (cells: string[]) =>
      cells
        .map((c, col) => (col === cells.length - 1 ? c : c + ' '.repeat((widths[col] ?? 0) - displayWidth(c))))
        .join('  ');
    out.stdout(`${rows.map(line).join('\n')}\n（时间为北京时间 / times are Asia/Shanghai）\n`);
    return 0;
  });
}

const EXT: Record<string, string> = { csv: 'csv', xlsx: 'xlsx', html: 'html', json: 'json' };

export async function reportCommand(args: string[], out: CommandOutput, env: Env = process.env): Promise<number> {
  return run(out, USAGE.report, async () => {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: { ...HELP, format: { type: 'string', default: 'json' }, out: { type: 'string' } },
    });
    helpRequested(values);
    const year = parseYear(positionals[0]);
    const format = values.format ?? 'json';
    if (!EXT[format]) throw new CliError(`--format 应为 csv、xlsx、html 或 json，收到 “${format}”`);
    const res = await api(env).get(`/api/cycles/${year}/report?format=${format}`);
    if (!res.ok) throw new CliError(await errorMessage(res));
    const data = Buffer.from(await res.arrayBuffer());
    const file = values.out ?? `duban-${year}-annual-report.${EXT[format]}`;
    if (file === '-') {
      if (format === 'xlsx') throw new CliError('Excel 文件不能输出到终端：请用 --out 指定文件名');
      out.stdout(data.toString('utf8'));
      return 0;
    }
    writeFileSync(file, data);
    out.stdout(`已保存 ${year} 年度报告：${file}（${data.length} 字节）\n`);
    return 0;
  });
}
