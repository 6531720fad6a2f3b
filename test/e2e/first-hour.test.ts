// Callbacks passed to page.$eval run in the browser: they need the DOM types.
/// <reference lib="dom" />
/**
 * A newcomer's first hour, on whatever day the test runs: `npm start` on an empty data directory (non-default ports,
 * neither DATABASE_URL nor DUBAN_API_URL) prints three live reply links of the demo; one is opened in Chromium and
 * answered, the unit turns green on the dashboard at once, the drill's reminder is in the outbox at its minute and goes
 * out; the CLI finds the stack by itself; and the README's drill example, run as written, starts and cancels a drill.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Browser } from 'playwright-core';
import { PROJECT_ROOT } from '../../launcher/binaries';
import { shanghaiDate } from '../../domain/schedule';
import { launchChromium } from '../helpers/browser';
import { cleanEnv, freshStackEnv, launch, removeTempDataDirs, stopAllLaunched } from '../helpers/launcher';
import { until } from '../helpers/wait';

jest.setTimeout(240_000);

const run = promisify(execFile);
let browser: Browser | undefined;

afterEach(stopAllLaunched);
afterAll(async () => {
  await browser?.close();
  removeTempDataDirs();
});

/** The first sh block of the README after `marker`. */
function readmeBlock(marker: string): string {
  const readme = readFileSync(path.join(PROJECT_ROOT, 'README.md'), 'utf8');
  const at = readme.indexOf(marker);
  const block = /```sh\n([\s\S]*?)```/.exec(readme.slice(at))?.[1];
  if (at < 0 || !block) throw new Error(`the README has no sh block after "${marker}"`);
  return block;
}

test('npm start prints live demo links; a report turns its unit green; the reminder comes on time; the CLI and the README work', async () => {
  const { dataDir, port, env: ports } = await freshStackEnv();
  const stack = launch({
    ...ports,
    // The demo at 40 s instead of 10 minutes: reminder at 20 s; the dispatcher looks every 5 s.
    DEMO_DUE: 'PT40S',
    DISPATCH_INTERVAL: 'PT5S',
  });
  await stack.waitFor(/duban is ready/, 120_000);
  const started = Date.now();
  const year = Number(shanghaiDate(started).slice(0, 4));
  expect(stack.output()).toContain(`${year} 年演练周期`);
  const links = [...stack.output().matchAll(/第(\d+)条 (\S+)：(http:\/\/\S+\/r\/\S+)/g)].map((m) => ({
    wp: Number(m[1]),
    unit: m[2] ?? '',
    url: m[3] ?? '',
  }));
  expect(links).toHaveLength(3);
  const admin = readFileSync(path.join(dataDir, 'admin-token'), 'utf8').trim();
  const api = `http://127.0.0.1:${port}`;

  browser = await launchChromium();
  const page = await browser.newPage();
  const first = links[0]!;
  const opened = await page.goto(first.url);
  expect(opened?.status()).toBe(200);
  expect(await page.textContent('body')).toContain('【演练】');

  // The dashboard, signed in as the office.
  const office = await browser.newPage();
  await office.goto(`${api}/dashboard/login?next=${encodeURIComponent(`/dashboard/cycles/${year}`)}`);
  await office.fill('input[name="token"]', admin);
  await Promise.all([office.waitForURL(`**/dashboard/cycles/${year}`), office.click('button[type="submit"]')]);
  expect(await office.textContent('body')).toContain('演练');
  const cell = async () => {
    await office.reload();
    return office.evaluate(
      ({ wp, unit }) => {
        const headers = Array.from(document.querySelectorAll('thead th'), (th) => th.textContent?.trim() ?? '');
        const column = headers.indexOf(unit);
        const row = Array.from(document.querySelectorAll('tbody tr')).find((tr) =>
          tr.querySelector('th')?.textContent?.includes(`${wp}. `),
        );
        const td = row?.children[column];
        return td ? { className: td.className, title: td.getAttribute('title') ?? '' } : undefined;
      },
      { wp: first.wp, unit: first.unit },
    );
  };
  // In the reminder window the unit is yellow; its report turns it green at once.
  await until(
    'the unit in its reminder window',
    async () => ((await cell())?.className === 'c-yellow' ? true : undefined),
    60_000,
  );
  await page.fill('textarea[name="text"]', '演练：已按要求完成。');
  await Promise.all([page.waitForLoadState('load'), page.click('button[type="submit"]')]);
  expect(await page.textContent('body')).toContain('已收到');
  const reported = Date.now();
  await until(
    'the unit green on the dashboard',
    async () => ((await cell())?.className === 'c-green' ? true : undefined),
    5_000,
  );
  expect(Date.now() - reported).toBeLessThan(5_000);

  // The reminder came at its minute (start + 5 s + 20 s) and went out.
  const reminders = await until(
    'the demo reminders sent',
    async () => {
      const res = await fetch(`${api}/api/notifications?cycle=${year}&kind=reminder&status=sent&limit=5`, {
        headers: { authorization: `Bearer ${admin}` },
      });
      const body = (await res.json()) as { items: { scheduledFor: string; subject: string }[] };
      return body.items.length > 0 ? body.items : undefined;
    },
    60_000,
  );
  const at = Date.parse(reminders[0]!.scheduledFor);
  expect(at).toBeGreaterThan(started - 60_000);
  expect(at).toBeLessThan(started + 60_000);
  expect(reminders[0]!.subject).toMatch(/^【演练】/);

  // The README's first-hour commands, as written: the CLI finds the stack (database, API, admin token) with neither
  // DATABASE_URL nor DUBAN_API_URL set.
  const commands = readmeBlock('the CLI finds its database')
    .split('\n')
    .map((line) => line.replace(/#.*$/, '').trim())
    .filter((line) => line.startsWith('npx duban '));
  expect(commands).toHaveLength(3);
  const outputs: string[] = [];
  for (const command of commands) {
    const args = command.replace('npx duban ', '').replace('<year>', String(year)).split(/\s+/);
    // Run from the data directory, where `report` leaves its file.
    const { stdout } = await run(process.execPath, [path.join(PROJECT_ROOT, 'bin', 'duban.js'), ...args], {
      cwd: dataDir,
      env: { ...cleanEnv(), DATA_DIR: dataDir },
    });
    outputs.push(stdout);
  }
  expect(outputs[0]).toMatch(new RegExp(`${year} 演练`)); // cycle list, the drill marked
  const csv = /：(\S+\.csv)/.exec(outputs[1] ?? '')?.[1] ?? '';
  expect(readFileSync(path.join(dataDir, csv), 'utf8')).toContain(first.unit); // the report as CSV
  expect(outputs[2]).toContain('viewer'); // a new token

  // The README's drill example, as written (its host and token file are this stack's).
  expect(
    (await fetch(`${api}/api/cycles/${year}`, { method: 'DELETE', headers: { authorization: `Bearer ${admin}` } }))
      .status,
  ).toBe(200);
  const script = `TOKEN=$(cat ${path.join(dataDir, 'admin-token')})\n${readmeBlock('whose period is due in 10 minutes').replaceAll('localhost:3000', `127.0.0.1:${port}`)}`;
  // `date +%Y` as an office in China reads it.
  const { stdout } = await run('bash', ['-c', script], { env: { ...process.env, TZ: 'Asia/Shanghai' } });
  expect(stdout).toContain(`"workflowId":"cycle-${year}"`);
  expect(stdout).toContain('"cancelled":true');
});
