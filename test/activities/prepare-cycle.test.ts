/**
 * A plan far larger than a district's: 1,300 work points × 20 units. Every input in one activity result would be
 * over Temporal's 2 MB payload limit (the cycle would retry prepareCycle forever); the cycle workflow instead gets
 * the numbers, then one page of START_BATCH recorded inputs at a time, each well under it.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../activities';
import { prepareCycleData, recordCycle } from '../../services/cycle-preparation';
import { syntheticPlan, syntheticUnits } from '../../bench/synthetic';
import { savePlan } from '../../db/plans-repo';
import { importDirectory } from '../../db/units-repo';
import { DEMO_UNIT_DIRECTORY } from '../../domain/demo-directory';
import { UnitDirectorySchema } from '../../domain/units';
import { type WorkPointInput } from '../../domain/model';
import { START_BATCH } from '../../workflows/shared';
import { createTestDatabase, type TestDatabase } from '../helpers/db';

const TEMPORAL_PAYLOAD_LIMIT = 2 * 1024 * 1024;
const W = 1300;
const YEAR = 2025;

let db: TestDatabase;
let planId: number;
beforeAll(async () => {
  db = await createTestDatabase();
  const units = syntheticUnits(20);
  await importDirectory(
    db.pool,
    UnitDirectorySchema.parse({
      units: [...DEMO_UNIT_DIRECTORY.units, ...units],
      groupSelections: DEMO_UNIT_DIRECTORY.groupSelections,
    }),
  );
  const names = units.map((u) => u.name);
  ({ id: planId } = await savePlan(
    db.pool,
    { ...syntheticPlan(YEAR, W, names, [names[0] ?? '']), year: YEAR },
    'synthetic',
    [],
  ));
});
afterAll(() => db.drop());

const bytes = (v: unknown) => Buffer.byteLength(JSON.stringify(v));
const activities = () =>
  createActivities({ pool: db.pool, publicBaseUrl: 'http://duban.test', linkSecret: 'k'.repeat(32) });
type Page = { year: number; numbers: number[] };
/** The activities run inside an activity context, as the worker runs them. */
const prepareCycleRecorded = (
  input: Parameters<ReturnType<typeof activities>['prepareCycleRecorded']>[0],
  runId = '00000000-0000-0000-0000-000000000000',
) =>
  new MockActivityEnvironment({ workflowExecution: { workflowId: input.workflowId, runId } }).run<
    [typeof input],
    { numbers: number[] },
    ReturnType<typeof activities>['prepareCycleRecorded']
  >((i) => activities().prepareCycleRecorded(i), input);
const workPointInputs = (page: Page) =>
  new MockActivityEnvironment().run<[Page], WorkPointInput[], (p: Page) => Promise<WorkPointInput[]>>(
    (p) => activities().workPointInputs(p),
    page,
  );

test('a 1,300 × 20 cycle is prepared into pages that each fit a Temporal payload, and they add up to the plan', async () => {
  const { numbers } = await prepareCycleRecorded({ year: YEAR, planId, options: {}, workflowId: `cycle-${YEAR}` });
  expect(numbers).toHaveLength(W);
  expect(bytes({ numbers })).toBeLessThan(16 * 1024);

  const pages: WorkPointInput[][] = [];
  for (let i = 0; i < numbers.length; i += START_BATCH) {
    const page = await workPointInputs({ year: YEAR, numbers: numbers.slice(i, i + START_BATCH) });
    expect(bytes(page)).toBeLessThan(TEMPORAL_PAYLOAD_LIMIT / 4);
    pages.push(page);
  }

  const prepared = await prepareCycleData(db.pool, YEAR, planId, {});
  if (prepared.kind !== 'ok') throw new Error(`prepare failed: ${prepared.kind}`);
  expect(bytes({ workPoints: prepared.workPoints })).toBeGreaterThan(TEMPORAL_PAYLOAD_LIMIT);
  expect(pages.flat()).toEqual(prepared.workPoints);
});

test('a page asks for a work point the cycle never recorded: a clear error, not a silent gap', async () => {
  await expect(workPointInputs({ year: YEAR, numbers: [1, W + 1] })).rejects.toThrow(
    `cycle ${YEAR} has no recorded input for work point ${W + 1}`,
  );
});

describe('a cycle the API prepared is not prepared again by its activity', () => {
  const year = YEAR - 1;
  const workflowId = `cycle-${year}`;
  let small: number;
  /** What the API recorded, marked so that a second preparation would be seen (it would read the plan's titles). */
  let recorded: WorkPointInput[];
  beforeAll(async () => {
    const names = syntheticUnits(20).map((u) => u.name);
    ({ id: small } = await savePlan(
      db.pool,
      { ...syntheticPlan(year, 3, names, [names[0] ?? '']), year },
      'small',
      [],
    ));
    const prepared = await prepareCycleData(db.pool, year, small, {});
    if (prepared.kind !== 'ok') throw new Error(`prepare failed: ${JSON.stringify(prepared)}`);
    recorded = prepared.workPoints.map((w) => ({ ...w, title: `${w.title}（API 已准备）` }));
    await recordCycle(db.pool, {
      year,
      planId: small,
      workflowId,
      runId: 'run-api',
      options: {},
      workPoints: recorded,
    });
  });

  test('the activity of the run the API started uses the recorded inputs', async () => {
    const input = { year, planId: small, options: {}, workflowId };
    const { numbers } = await prepareCycleRecorded(input, 'run-api');
    expect(numbers).toEqual([1, 2, 3]);
    expect(await workPointInputs({ year, numbers })).toEqual(recorded);
  });

  test('another run of the same year (an earlier one failed) prepares afresh and never takes its inputs', async () => {
    const input = { year, planId: small, options: {}, workflowId };
    const { numbers } = await prepareCycleRecorded(input, 'run-later');
    const inputs = await workPointInputs({ year, numbers });
    expect(inputs.map((w) => w.title)).toEqual(recorded.map((w) => w.title.replace('（API 已准备）', '')));
    // Its own record now serves its retries.
    const { numbers: again } = await prepareCycleRecorded(input, 'run-later');
    expect(again).toEqual(numbers);
  });
});
