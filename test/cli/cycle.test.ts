/**
 * `duban cycle start|status` and `duban report` against the real API listening on a port, with a
 * real worker on the time-skipping server.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { Worker } from '@temporalio/worker';
import { createActivities } from '../../activities';
import { cycleStartCommand, cycleStatusCommand, reportCommand } from '../../cli/cycle';
import { DEMO_UNIT_DIRECTORY } from '../../domain/demo-directory';
import { toShanghaiIso } from '../../domain/schedule';
import { SEED_PLAN_PATH } from '../../launcher/seed';
import { TEST_LINK_SECRET, useApiTestContext } from '../helpers/app';
import { workflowBundle } from '../helpers/temporal';

const ctx = useApiTestContext();
const TASK_QUEUE = 'cli-cycle-test';
const dir = mkdtempSync(path.join(os.tmpdir(), 'duban-cli-'));

function capture() {
  const o = { stdout: '', stderr: '' };
  return { out: { stdout: (s: string) => void (o.stdout += s), stderr: (s: string) => void (o.stderr += s) }, o };
}

test('without a token or an API the commands say what to do, in one line, exit 1', async () => {
  const a = capture();
  expect(await cycleStatusCommand(['2023'], a.out, {})).toBe(1);
  expect(a.o.stderr).toMatch(/^duban: 需要 API 令牌：请设置 DUBAN_TOKEN.*\n$/);
  const b = capture();
  expect(await cycleStatusCommand(['2023'], b.out, { DUBAN_TOKEN: 'x', DUBAN_API_URL: 'http://127.0.0.1:1' })).toBe(1);
  expect(b.o.stderr).toContain('无法连接督办 API http://127.0.0.1:1');
  const c = capture();
  expect(await reportCommand(['20x3'], c.out, { DUBAN_TOKEN: 'x' })).toBe(1);
  expect(c.o.stderr).toContain('年度应为');
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

  const worker = await Worker.create({
    connection: ctx.env.nativeConnection,
    taskQueue: TASK_QUEUE,
    workflowBundle: await workflowBundle(),
    activities: createActivities({
      pool: ctx.db.pool,
      publicBaseUrl: 'http://duban.test',
      linkSecret: TEST_LINK_SECRET,
    }),
  });
  await worker.runUntil(async () => {
    const start = capture();
    expect(await cycleStartCommand(['2023', '--options', optionsFile], start.out, env, 100)).toBe(0);
    expect(start.o.stdout).toContain('已启动 cycle-2023，共 29 项要点');
    expect(start.o.stdout).toContain('要点已运行 29/29');

    const again = capture();
    expect(await cycleStartCommand(['2023'], again.out, env)).toBe(0);
    expect(again.o.stdout).toContain('已经启动，不会重复启动');

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
  });
}, 120_000);
