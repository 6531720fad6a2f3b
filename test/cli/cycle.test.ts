/**
 * `duban cycle list|start|status` and `duban report` against the real API listening on a port, with a
 * real worker on the time-skipping server.
 */
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import {
  cycleListCommand,
  cycleStartCommand,
  cycleStatusCommand,
  planCopyCommand,
  reportCommand,
} from '../../cli/cycle';
import { run } from '../../cli/main';
import { DEMO_UNIT_DIRECTORY } from '../../domain/demo-directory';
import { toShanghaiIso } from '../../domain/schedule';
import { SEED_PLAN_PATH } from '../../launcher/seed';
import { writeStackFile } from '../../launcher/stack-file';
import { TEST_LINK_SECRET, useApiTestContext } from '../helpers/app';
import { createTestWorker } from '../helpers/worker';

const ctx = useApiTestContext();
const TASK_QUEUE = 'cli-cycle-test';
const dir = mkdtempSync(path.join(os.tmpdir(), 'duban-cli-'));

function capture() {
  const o = { stdout: '', stderr: '' };
  return { out: { stdout: (s: string) => void (o.stdout += s), stderr: (s: string) => void (o.stderr += s) }, o };
}

test('without a token or an API the commands say what to do, in one line, exit 1', async () => {
  const a = capture();
  // DATA_DIR without a running npm start: a stack in the checkout's .data must not lend its token to the test.
  expect(await cycleStatusCommand(['2023'], a.out, { DATA_DIR: dir })).toBe(1);
  expect(a.o.stderr).toMatch(/^duban: 需要 API 令牌：请设置 DUBAN_TOKEN.*\n$/);
  const b = capture();
  expect(await cycleStatusCommand(['2023'], b.out, { DUBAN_TOKEN: 'x', DUBAN_API_URL: 'http://127.0.0.1:1' })).toBe(1);
  expect(b.o.stderr).toContain('无法连接督办 API http://127.0.0.1:1');
  const c = capture();
  expect(await reportCommand(['20x3'], c.out, { DUBAN_TOKEN: 'x' })).toBe(1);
  expect(c.o.stderr).toContain('年度应为');
});

test('every command and group answers --help / -h with its usage on stdout and exit 0; wrong arguments exit 2', async () => {
  const helps = [
    ['--help'],
    ['-h'],
    ['help'],
    ['help', 'cycle'],
    ['plan', '--help'],
    ['plan', 'parse', '--help'],
    ['token', '-h'],
    ['token', 'create', '--help'],
    ['token', 'list', '--help'],
    ['token', 'revoke', '-h'],
    ['cycle', '--help'],
    ['cycle', 'list', '--help'],
    ['cycle', 'start', '-h'],
    ['cycle', 'start', '2023', '--help'],
    ['cycle', 'status', '--help'],
    ['report', '--help'],
  ];
  for (const argv of helps) {
    const c = capture();
    // No API, database or token is needed to read the help.
    expect([argv.join(' '), await run(argv, c.out)]).toEqual([argv.join(' '), 0]);
    expect(c.o.stdout).toMatch(/用法|usage/);
    expect(c.o.stdout).toContain(
      argv.includes('plan') ? 'duban plan parse' : argv.includes('token') ? 'duban token' : 'duban',
    );
    expect(c.o.stderr).toBe('');
  }
  const list = capture();
  expect(await run(['cycle', 'list', '--help'], list.out)).toBe(0);
  expect(list.o.stdout).toContain('duban cycle list [--json]');
  expect(list.o.stdout).toContain('DATA_DIR/admin-token');

  const bare = capture();
  expect(await run(['cycle'], bare.out)).toBe(2);
  expect(bare.o.stderr).toContain('duban cycle start <年度 year>');
  const wrong = capture();
  expect(await run(['cycle', 'list', '--jsn'], wrong.out)).toBe(2);
  expect(wrong.o.stderr).toMatch(/^duban: 参数有误 \/ wrong arguments: Unknown option '--jsn'/);
  expect(wrong.o.stderr).toContain('duban cycle list [--json]');
});

test('with npm start running, cycle list uses its API and its owner-only admin token; DUBAN_TOKEN and DUBAN_API_URL win', async () => {
  const app = await ctx.build({ TEMPORAL_TASK_QUEUE: TASK_QUEUE });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const apiUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'duban-cli-stack-'));
  // What a running npm start leaves for the CLI (its pid: this process, which is alive).
  writeStackFile(dataDir, {
    apiUrl,
    databaseUrl: 'postgres://unused@127.0.0.1:1/unused',
    embeddedDatabase: true,
    pid: process.pid,
  });
  const tokenFile = path.join(dataDir, 'admin-token');
  writeFileSync(tokenFile, `${ctx.admin.authorization.replace('Bearer ', '')}\n`, { mode: 0o600 });

  const found = capture();
  expect(await cycleListCommand([], found.out, { DATA_DIR: dataDir })).toBe(0);
  expect(found.o.stdout).toContain('还没有启动任何年度周期');
  expect(found.o.stderr).toBe('');

  // A token file others can read is not used, and the message says how to fix it.
  chmodSync(tokenFile, 0o644);
  const open = capture();
  expect(await cycleListCommand([], open.out, { DATA_DIR: dataDir })).toBe(1);
  expect(open.o.stderr).toContain(`chmod 600 ${tokenFile}`);
  chmodSync(tokenFile, 0o600);

  // npm start's admin token never goes to another API.
  const elsewhere = capture();
  expect(await cycleListCommand([], elsewhere.out, { DATA_DIR: dataDir, DUBAN_API_URL: 'http://127.0.0.1:1' })).toBe(1);
  expect(elsewhere.o.stderr).toMatch(/^duban: 需要 API 令牌：请设置 DUBAN_TOKEN.*\n$/);

  // DUBAN_TOKEN wins over the file: a wrong one is refused rather than replaced by the admin token.
  const given = capture();
  expect(await cycleListCommand(['--json'], given.out, { DATA_DIR: dataDir, DUBAN_TOKEN: 'not-a-token' })).toBe(1);
  expect(given.o.stderr).toMatch(/^duban: /);
  const viewer = capture();
  const viewerToken = ctx.viewer.authorization.replace('Bearer ', '');
  expect(await cycleListCommand(['--json'], viewer.out, { DATA_DIR: dataDir, DUBAN_TOKEN: viewerToken })).toBe(0);
  expect(JSON.parse(viewer.o.stdout)).toEqual([]);
});

test('cycle start shows progress until all 29 work points run; again it names the existing run; status and report follow', async () => {
  const app = await ctx.build({ TEMPORAL_TASK_QUEUE: TASK_QUEUE });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const env = {
    DUBAN_API_URL: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`,
    DUBAN_TOKEN: ctx.admin.authorization.replace('Bearer ', ''),
  };
  await app.inject({ method: 'PUT', url: '/api/units', headers: ctx.admin, payload: DEMO_UNIT_DIRECTORY });
  await app.inject({
    method: 'POST',
    url: '/api/plans',
    headers: { ...ctx.admin, 'content-type': 'text/plain' },
    payload: readFileSync(SEED_PLAN_PATH, 'utf8'),
  });
  const now = await ctx.env.currentTimeMs();
  const day = 86_400_000;
  const optionsFile = path.join(dir, 'options.json');
  writeFileSync(
    optionsFile,
    JSON.stringify({
      periods: [{ id: 'H1', label: '上半年', opens: toShanghaiIso(now), due: toShanghaiIso(now + 30 * day) }],
      reminderBefore: 'P3D',
      leadEscalationAfter: 'P3D',
      officeEscalationAfter: 'P5D',
      review: {
        request: toShanghaiIso(now + 40 * day),
        summaryDue: toShanghaiIso(now + 50 * day),
        rating: toShanghaiIso(now + 60 * day),
        reminderBefore: 'P3D',
        officeEscalationAfter: 'P5D',
      },
    }),
  );

  const worker = await createTestWorker({
    connection: ctx.env.nativeConnection,
    pool: ctx.db.pool,
    taskQueue: TASK_QUEUE,
    linkSecret: TEST_LINK_SECRET,
  });
  await worker.runUntil(async () => {
    const start = capture();
    expect(await cycleStartCommand(['2023', '--options', optionsFile], start.out, env, 100)).toBe(0);
    expect(start.o.stdout).toContain('已启动 cycle-2023，共 29 项要点');
    expect(start.o.stdout).toContain('要点已运行 29/29');
    expect(start.o.stdout).toMatch(/全部 29 项要点已运行，交办通知已入库：用时 \d+\.\d 秒/);

    const again = capture();
    expect(await cycleStartCommand(['2023'], again.out, env)).toBe(0);
    expect(again.o.stdout).toContain('已经启动，不会重复启动');

    const list = capture();
    expect(await cycleListCommand([], list.out, env)).toBe(0);
    const lines = list.o.stdout.split('\n');
    expect(lines[0]).toMatch(
      /^年度 year +计划 plan +状态 state +开始 started +结束 finished +红\/黄\/绿 lights +流程 workflow$/,
    );
    expect(lines[1]).toMatch(/^2023 +#\d+ +进行中 running +\d{4}-\d\d-\d\d \d\d:\d\d +— +0\/0\/29 +cycle-2023$/);
    expect(lines[2]).toBe('（时间为北京时间 / times are Asia/Shanghai）');
    const listJson = capture();
    expect(await cycleListCommand(['--json'], listJson.out, env)).toBe(0);
    expect(JSON.parse(listJson.o.stdout)).toEqual([
      expect.objectContaining({ year: 2023, workflowId: 'cycle-2023', finishedAt: null, workPoints: 29 }),
    ]);

    const status = capture();
    expect(await cycleStatusCommand(['2023', '--json'], status.out, env)).toBe(0);
    expect((JSON.parse(status.o.stdout) as { workPoints: unknown[] }).workPoints).toHaveLength(29);
    const table = capture();
    expect(await cycleStatusCommand(['2023'], table.out, env)).toBe(0);
    expect(table.o.stdout).toMatch(/^2023 年度周期 cycle-2023：红 0 · 黄 0 · 绿 29\n/);

    const csv = path.join(dir, 'r.csv');
    const report = capture();
    expect(await reportCommand(['2023', '--format', 'csv', '--out', csv], report.out, env)).toBe(0);
    expect(readFileSync(csv, 'utf8').startsWith('\ufeff年度,要点')).toBe(true);
    const bad = capture();
    expect(await reportCommand(['2023', '--format', 'pdf'], bad.out, env)).toBe(1);
    expect(bad.o.stderr).toContain('--format 应为');
    const missing = capture();
    expect(await cycleStatusCommand(['2031'], missing.out, env)).toBe(1);
    expect(missing.o.stderr).toContain('2031 年度周期尚未启动');

    // The plan carried into another year, once.
    const copied = capture();
    expect(await planCopyCommand(['1', '--year', '2031'], copied.out, env)).toBe(0);
    expect(copied.o.stdout).toMatch(/已将计划 1 带到 2031 年：新计划编号 (\d+)/);
    const copiedAgain = capture();
    expect(await planCopyCommand(['1', '--year', '2031'], copiedAgain.out, env)).toBe(0);
    expect(copiedAgain.o.stdout).toContain('已带到过 2031 年');
    const same = capture();
    expect(await planCopyCommand(['1', '--year', '2023'], same.out, env)).toBe(1);
    expect(same.o.stderr).toContain('已是 2023 年');
  });
}, 120_000);
