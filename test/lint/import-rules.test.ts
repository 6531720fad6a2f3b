import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ESLint } from 'eslint';

/**
 * The lint config enforces issue #13's import directions and forbids import circles. Each case is a real
 * file in a scratch folder inside the layer it stands for (the type-aware config only lints files its
 * tsconfig covers, and the circle rule reads the imported file from disk); the folders go afterwards.
 */
const ROOT = join(__dirname, '..', '..');
const SCRATCH = `lint-scratch-${process.pid}`;
const made: string[] = [];

function file(layer: string, name: string, text: string): string {
  const dir = join(ROOT, layer, SCRATCH);
  mkdirSync(dir, { recursive: true });
  if (!made.includes(dir)) made.push(dir);
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

let eslint: ESLint;
beforeAll(() => {
  // The project's own config, read with require: jest's VM cannot run ESLint's dynamic import() of the file.
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- see above
  const config = require('../../eslint.config.js') as ESLint.Options['baseConfig'];
  eslint = new ESLint({ cwd: ROOT, overrideConfigFile: true, baseConfig: config });
});
afterAll(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

async function messages(path: string): Promise<{ ruleId: string | null; message: string }[]> {
  const [result] = await eslint.lintFiles([relative(ROOT, path)]);
  return (result?.messages ?? []).map(({ ruleId, message }) => ({ ruleId, message }));
}

const RESTRICTED = '@typescript-eslint/no-restricted-imports';

test('an api/ file importing activities/ fails with the layer rule’s message', async () => {
  const path = file(
    'api',
    'x.ts',
    "import { createActivities } from '../../activities/index';\nexport { createActivities };\n",
  );
  expect(await messages(path)).toEqual([
    {
      ruleId: RESTRICTED,
      message: expect.stringContaining(
        'api/ imports only api/, services/, db/, domain/, common/, config/ and workflows/shared.',
      ),
    },
  ]);
}, 120_000);

test('an api/ file may import workflows/shared, but no other workflows/ file', async () => {
  const shared = file(
    'api',
    'shared.ts',
    "import { DEFAULT_TASK_QUEUE } from '../../workflows/shared';\nexport { DEFAULT_TASK_QUEUE };\n",
  );
  expect(await messages(shared)).toEqual([]);
  const other = file(
    'api',
    'other.ts',
    "import { annualCycle } from '../../workflows/annual-cycle';\nexport { annualCycle };\n",
  );
  expect(await messages(other)).toEqual([{ ruleId: RESTRICTED, message: expect.stringContaining('workflows/shared') }]);
}, 120_000);

test('an activities/ file importing a workflow fails; workflows/shared is allowed', async () => {
  const path = file(
    'activities',
    'x.ts',
    "import { workPoint } from '../../workflows/work-point';\nexport { workPoint };\n",
  );
  expect(await messages(path)).toEqual([
    { ruleId: RESTRICTED, message: expect.stringContaining('activities/ import only activities/, services/') },
  ]);
  const shared = file(
    'activities',
    'shared.ts',
    "import { workPointWorkflowId } from '../../workflows/shared';\nexport { workPointWorkflowId };\n",
  );
  expect(await messages(shared)).toEqual([]);
}, 120_000);

test('a domain/ file importing pg fails (domain/ is pure)', async () => {
  const path = file('domain', 'x.ts', "import { Pool } from 'pg';\nexport { Pool };\n");
  expect(await messages(path)).toEqual([
    { ruleId: RESTRICTED, message: expect.stringContaining('deterministic: no I/O or Node built-ins') },
  ]);
}, 120_000);

test('two files importing each other fail as a circle', async () => {
  const a = file('services', 'a.ts', "import { b } from './b';\nexport const a = (): number => b() + 1;\n");
  file('services', 'b.ts', "import { a } from './a';\nexport const b = (): number => (a.length > 0 ? 1 : 0);\n");
  expect(await messages(a)).toEqual([
    { ruleId: 'import-x/no-cycle', message: expect.stringContaining('Dependency cycle') },
  ]);
}, 120_000);
