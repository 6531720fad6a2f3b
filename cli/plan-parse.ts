import { readFile } from 'node:fs/promises';
import type { ParseWarning, Plan } from '../domain/plan';
import { parsePlan } from '../domain/plan-parser';

/** Where a command writes. Each call receives a whole chunk, newlines included (like process.stdout.write). */
export interface CommandOutput {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
}

export const USAGE = [
  '用法：duban plan parse <文件> [--json]   / usage: duban plan parse <file> [--json]',
  '  读取工作要点文本文件（UTF-8），列出每条要点的编号、所属部分、标题、牵头单位和责任单位。',
  '  / reads a work-plan text file (UTF-8) and lists every work point: number, section, title, lead and responsible units.',
  '  --json  以 JSON 输出 { plan, warnings } / print { plan, warnings } as JSON',
  '',
].join('\n');

/**
 * `duban plan parse <file> [--json]`. Exit codes: 0 read (possibly with warnings), 1 the file could not be
 * read as a plan, 2 wrong usage. Problems are reported as messages, never as stack traces.
 */
export async function planParseCommand(args: string[], out: CommandOutput): Promise<number> {
  let json = false;
  const files: string[] = [];
  for (const arg of args) {
    if (arg === '--json') {
      json = true;
    } else if (arg === '-h' || arg === '--help') {
      out.stdout(USAGE);
      return 0;
    } else if (arg.startsWith('-') && arg !== '-') {
      out.stderr(`未知选项：${arg}\n${USAGE}`);
      return 2;
    } else {
      files.push(arg);
    }
  }
  const file = files[0];
  if (file === undefined || files.length > 1) {
    out.stderr(`${files.length > 1 ? '只能指定一个文件。' : '缺少要读取的文件。'}\n${USAGE}`);
    return 2;
  }

  const read = await readText(file);
  if (!read.ok) {
    out.stderr(`无法读取 ${file}：${read.reason}\n`);
    return 1;
  }

  const { plan, warnings } = parsePlan(read.text);
  if (plan === null || plan.workPoints.length === 0) {
    out.stderr(`无法从 ${file} 读取工作要点：没有找到任何编号要点。\n${formatWarnings(warnings)}`);
    return 1;
  }

  if (json) {
    out.stdout(`${JSON.stringify({ plan, warnings }, null, 2)}\n`);
  } else {
    out.stdout(formatPlan(plan));
    if (warnings.length > 0) out.stderr(formatWarnings(warnings));
  }
  return 0;
}

type ReadResult = { ok: true; text: string } | { ok: false; reason: string };

async function readText(file: string): Promise<ReadResult> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    // Duck-typed rather than instanceof Error: errors may come from another realm (e.g. under jest).
    const code = typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : '';
    const reasons: Record<string, string> = {
      ENOENT: '文件不存在',
      EISDIR: '这是一个目录，不是文件',
      EACCES: '没有读取权限',
      EPERM: '没有读取权限',
    };
    return {
      ok: false,
      reason: reasons[code] ?? `读取失败（${code || (err instanceof Error ? err.message : String(err))}）`,
    };
  }
  if (bytes.length === 0) return { ok: false, reason: '文件为空' };
  if (bytes.includes(0)) return { ok: false, reason: '不是文本文件（含有二进制内容）' };
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return { ok: false, reason: '不是 UTF-8 编码的文本。如果是 GBK 等编码，请先转换为 UTF-8' };
  }
  if (text.trim() === '') return { ok: false, reason: '文件为空（只有空白字符）' };
  return { ok: true, text };
}

function formatWarnings(warnings: ParseWarning[]): string {
  if (warnings.length === 0) return '';
  return `警告（${warnings.length} 条）：\n${warnings.map((w) => `  第 ${w.line} 行：${w.message}\n`).join('')}`;
}

/** Terminal columns of a string: CJK and full-width forms take two. */
export function displayWidth(s: string): number {
  let width = 0;
  for (const ch of s) {
    const cp = ch.codePointAt(0) ?? 0;
    const wide =
      (cp >= 0x1100 && cp <= 0x115f) ||
      (cp >= 0x2e80 && cp <= 0xa4cf) ||
      (cp >= 0xac00 && cp <= 0xd7a3) ||
      (cp >= 0xf900 && cp <= 0xfaff) ||
      (cp >= 0xfe30 && cp <= 0xfe4f) ||
      (cp >= 0xff00 && cp <= 0xff60) ||
      (cp >= 0xffe0 && cp <= 0xffe6) ||
      (cp >= 0x20000 && cp <= 0x3fffd);
    width += wide ? 2 : 1;
  }
  return width;
}

function pad(s: string, width: number): string {
  return s + ' '.repeat(Math.max(0, width - displayWidth(s)));
}

function formatPlan(plan: Plan): string {
  const none = '—';
  const header = [
    plan.title ?? '（标题未识别）',
    `发文机关：${plan.issuer ?? none}　文号：${plan.docNumber ?? none}　日期：${plan.issuedAt ?? none}　年度：${plan.year ?? none}`,
    `共 ${plan.sections.length} 个部分、${plan.workPoints.length} 条要点`,
    '',
  ];
  const rows = [
    ['编号', '部分', '标题', '牵头单位', '责任单位'],
    ...plan.workPoints.map((wp) => [
      String(wp.number),
      wp.section ?? none,
      wp.title,
      wp.leadUnits.length > 0 ? wp.leadUnits.join('、') : none,
      wp.responsibleUnits.length > 0 ? wp.responsibleUnits.join('、') : none,
    ]),
  ];
  const widths = [0, 1, 2, 3, 4].map((col) => Math.max(...rows.map((row) => displayWidth(row[col] ?? ''))));
  const line = (cells: string[]): string =>
    cells
      .map((cell, col) => (col === cells.length - 1 ? cell : pad(cell, widths[col] ?? 0)))
      .join('  ')
      .trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  const [head, ...body] = rows;
  return `${[...header, line(head ?? []), rule, ...body.map(line)].join('\n')}\n`;
}
