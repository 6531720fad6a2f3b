import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { CommandOutput } from './plan-parse';
import { apiUrlFor } from './stack';

/**
 * `duban cycle start|status` and `duban report`: the office's commands, over the HTTP API (the same
 * rules, validation and audit as every other client). DUBAN_API_URL (default: the API of a running npm start,
 * else http://localhost:3000)
 * and DUBAN_TOKEN (an API token: npx duban token create) say where and as whom.
 */

type Env = Record<string, string | undefined>;

class CliError extends Error {}

interface Api {
  get(path: string): Promise<Response>;
  post(path: string, body: unknown): Promise<Response>;
}

function api(env: Env): Api {
  const base = apiUrlFor(env);
  const token = env.DUBAN_TOKEN;
  if (!token) {
    throw new CliError(
      '需要 API 令牌：请设置 DUBAN_TOKEN（用 npx duban token create --role admin 创建） / set DUBAN_TOKEN to an API token',
    );
  }
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

async function run(out: CommandOutput, fn: () => Promise<number>): Promise<number> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof CliError) {
      out.stderr(`duban: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
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
  return run(out, async () => {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: { plan: { type: 'string' }, options: { type: 'string' }, 'no-wait': { type: 'boolean' } },
    });
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
      if (n >= total) return 0;
      await sleep(pollMs);
    }
    throw new CliError(
      `${total} 项要点中只有 ${last} 项在 10 分钟内开始运行：请检查 worker 是否在运行（npm run worker）`,
    );
  });
}

const LIGHT: Record<string, string> = { red: '红', yellow: '黄', green: '绿' };

export async function cycleStatusCommand(args: string[], out: CommandOutput, env: Env = process.env): Promise<number> {
  return run(out, async () => {
    const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { json: { type: 'boolean' } } });
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

const EXT: Record<string, string> = { csv: 'csv', xlsx: 'xlsx', html: 'html', json: 'json' };

export async function reportCommand(args: string[], out: CommandOutput, env: Env = process.env): Promise<number> {
  return run(out, async () => {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: { format: { type: 'string', default: 'json' }, out: { type: 'string' } },
    });
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
