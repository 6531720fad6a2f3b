import { spawn } from 'node:child_process';
import { PROJECT_ROOT } from '../../launcher/binaries';

/**
 * A process that cannot start says so in one line a person can act on — which variable, which server — and
 * exits 1; a stack trace there would bury the fix.
 */

jest.setTimeout(60_000);

const LINK_SECRET = 'startup-errors-test-secret-0123456789abcdef';
const UNREACHABLE_DB = 'postgres://postgres@127.0.0.1:1/x';
const UNREACHABLE_TEMPORAL = '127.0.0.1:1';

function testDatabaseUrl(): string {
  const url = process.env.TEST_DATABASE_URL;
  if (!url) throw new Error('TEST_DATABASE_URL is set by test/global-setup.ts');
  return url;
}

async function runToExit(entry: string, env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  const base = { ...process.env };
  for (const name of ['DATABASE_URL', 'TEMPORAL_ADDRESS', 'LINK_SECRET', 'PORT', 'HOST']) delete base[name];
  const child = spawn(process.execPath, ['--import', 'tsx', entry], {
    cwd: PROJECT_ROOT,
    env: { ...base, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 40_000);
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  clearTimeout(timer);
  return { code, stderr };
}

function expectOneLine(result: { code: number | null; stderr: string }, mentions: string): void {
  expect(result.code).toBe(1);
  const lines = result.stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^duban: /);
  expect(lines[0]).toContain(mentions);
  expect(result.stderr).not.toMatch(/^\s+at /m);
}

describe.each([
  ['api', 'api/main.ts'],
  ['worker', 'worker/main.ts'],
])('%s start-up errors', (_name, entry) => {
  test('an unreachable DATABASE_URL is one line naming DATABASE_URL', async () => {
    const result = await runToExit(entry, {
      DATABASE_URL: UNREACHABLE_DB,
      TEMPORAL_ADDRESS: UNREACHABLE_TEMPORAL,
      LINK_SECRET,
      PORT: '39998',
    });
    expectOneLine(result, 'DATABASE_URL');
  });

  test('an unreachable TEMPORAL_ADDRESS is one line naming TEMPORAL_ADDRESS', async () => {
    const result = await runToExit(entry, {
      DATABASE_URL: testDatabaseUrl(),
      TEMPORAL_ADDRESS: UNREACHABLE_TEMPORAL,
      LINK_SECRET,
      PORT: '39998',
    });
    expectOneLine(result, 'TEMPORAL_ADDRESS');
  });
});

test('api: an invalid PORT is one line naming PORT', async () => {
  const result = await runToExit('api/main.ts', {
    DATABASE_URL: testDatabaseUrl(),
    TEMPORAL_ADDRESS: UNREACHABLE_TEMPORAL,
    LINK_SECRET,
    PORT: 'abc',
  });
  expectOneLine(result, 'PORT');
});
