import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { planParseCommand } from '../../cli/plan-parse';
import { PlanParseResultSchema } from '../../domain/plan';

const repoRoot = path.resolve(__dirname, '../..');
// The byte-identical copy shipped in data/seeds (test/data/seed-copy.test.ts checks it against ../shared).
const SEED_PATH = path.join(repoRoot, 'data/seeds/000_69415ce730313519.txt');

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await planParseCommand(args, {
    stdout: (s) => {
      stdout += s;
    },
    stderr: (s) => {
      stderr += s;
    },
  });
  return { code, stdout, stderr };
}

describe('duban plan parse', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'duban-plan-parse-'));
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function file(name: string, content: string | Uint8Array): Promise<string> {
    const target = path.join(dir, name);
    await writeFile(target, content);
    return target;
  }

  it('prints the seed as JSON with 29 work points and no warnings', async () => {
    const { code, stdout, stderr } = await run([SEED_PATH, '--json']);
    expect(code).toBe(0);
    expect(stderr).toBe('');
    const result = PlanParseResultSchema.parse(JSON.parse(stdout));
    expect(result.plan?.workPoints).toHaveLength(29);
    expect(result.plan?.docNumber).toBe('新中法发〔2023〕2号');
    expect(result.warnings).toEqual([]);
  });

  it('prints the seed as a table with one row per work point', async () => {
    const { code, stdout, stderr } = await run([SEED_PATH]);
    expect(code).toBe(0);
    expect(stderr).toBe('');
    expect(stdout).toContain('2023年兰州新区中川园区法治政府建设工作要点');
    expect(stdout).toContain('共 8 个部分、29 条要点');
    const rows = stdout.split('\n').filter((line) => /^\d+\s/.test(line));
    expect(rows).toHaveLength(29);
    expect(rows[22]).toMatch(/^23\s+七\s+持续加强数字政府建设\s+经发局\s+中川镇、各中心社区、园区相关部门$/);
  });

  it('prints warnings to stderr in table mode and inside the JSON in JSON mode', async () => {
    const doc = await file('no-lead.txt', '2024年某某工作要点\n一、部分\n1. 甲事项。内容。（责任单位：乙局）\n');
    const table = await run([doc]);
    expect(table.code).toBe(0);
    expect(table.stdout).toContain('甲事项');
    expect(table.stderr).toMatch(/第 3 行：.*没有写明牵头单位/);

    const json = await run([doc, '--json']);
    expect(json.code).toBe(0);
    expect(json.stderr).toBe('');
    const result = PlanParseResultSchema.parse(JSON.parse(json.stdout));
    expect(result.warnings).toContainEqual({ line: 3, message: expect.stringContaining('没有写明牵头单位') });
  });

  it('fails with a message naming a missing file', async () => {
    const missing = path.join(dir, 'does-not-exist.txt');
    const { code, stdout, stderr } = await run([missing, '--json']);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toBe(`无法读取 ${missing}：文件不存在\n`);
  });

  it('fails on an empty file and on a file of blank lines', async () => {
    const empty = await run([await file('empty.txt', '')]);
    expect(empty.code).toBe(1);
    expect(empty.stderr).toContain('文件为空');
    const blank = await run([await file('blank.txt', '\n  \n\t\n')]);
    expect(blank.code).toBe(1);
    expect(blank.stderr).toContain('文件为空');
  });

  it('fails on a file that is not UTF-8 text', async () => {
    // 工作要点 in GBK
    const gbk = await run([await file('gbk.txt', Uint8Array.from([0xb9, 0xa4, 0xd7, 0xf7, 0xd2, 0xaa, 0xb5, 0xe3]))]);
    expect(gbk.code).toBe(1);
    expect(gbk.stderr).toContain('不是 UTF-8');
    const binary = await run([await file('binary.bin', Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0x01]))]);
    expect(binary.code).toBe(1);
    expect(binary.stderr).toContain('不是文本文件');
  });

  it('fails on a directory', async () => {
    const { code, stderr } = await run([dir]);
    expect(code).toBe(1);
    expect(stderr).toContain('目录');
  });

  it('fails, with the parser warnings, on text without work points', async () => {
    const { code, stdout, stderr } = await run([
      await file('prose.txt', '这是一段普通的文字。\n没有任何编号。\n'),
      '--json',
    ]);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toContain('没有找到任何编号要点');
    expect(stderr).toContain('第 1 行：');
  });

  it('answers wrong usage with the usage text and exit code 2', async () => {
    for (const args of [[], ['a.txt', 'b.txt'], ['--yaml', SEED_PATH]]) {
      const { code, stderr } = await run(args);
      expect(code).toBe(2);
      expect(stderr).toContain('用法：duban plan parse <文件> [--json]');
    }
    const help = await run(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('用法');
  });
});
