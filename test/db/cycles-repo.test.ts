import { readFileSync } from 'node:fs';
import { deleteCycleRecords, recordCycle, withStartableInputs } from '../../db/cycles-repo';
import { savePlan } from '../../db/plans-repo';
import { importDirectory } from '../../db/units-repo';
import { DEMO_UNIT_DIRECTORY } from '../../domain/demo-directory';
import { parsePlan } from '../../domain/plan-parser';
import { prepareCycleData } from '../../services/cycle-preparation';
import { SEED_PLAN_PATH } from '../../launcher/seed';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { until } from '../helpers/wait';

/**
 * A drill's cancellation and the start activity meet at the cycle's row: a start in flight holds the row, the
 * cancellation waits for it, and once the records are gone nothing of the cycle starts (PostgreSQL's row locks).
 */

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
  await importDirectory(db.pool, DEMO_UNIT_DIRECTORY, { demo: true });
});
afterAll(() => db.drop());

test('a drill’s cancellation waits for the starts in flight; afterwards nothing of the cycle starts', async () => {
  const year = 2051;
  const text = readFileSync(SEED_PLAN_PATH, 'utf8');
  const { id: planId } = await savePlan(db.pool, { ...parsePlan(text).plan!, year }, text, []);
  const options = {
    drill: true,
    startedAt: '2051-03-01T09:00:00+08:00',
    periods: [{ id: 'P1', label: '演练', opens: 'PT1M', due: 'PT10M' }],
    reminderBefore: 'PT2M',
    leadEscalationAfter: 'PT2M',
    officeEscalationAfter: 'PT4M',
    review: { request: 'PT15M', summaryDue: 'PT5M', rating: 'PT5M' },
  };
  const prepared = await prepareCycleData(db.pool, year, planId, options);
  if (prepared.kind !== 'ok') throw new Error(`the seed plan does not prepare: ${JSON.stringify(prepared)}`);
  const cycle = { year, workflowId: `cycle-${year}`, numbers: [1, 2] };
  await recordCycle(db.pool, { year, planId, workflowId: cycle.workflowId, options, workPoints: prepared.workPoints });

  const events: string[] = [];
  let release = () => undefined as void;
  const held = new Promise<void>((resolve) => (release = resolve));
  const starting = withStartableInputs(db.pool, cycle, async (inputs) => {
    events.push(`starting ${inputs.map((i) => i.number).join()}`);
    await held;
    events.push('started');
    return inputs.length;
  });
  await until('the start to hold the cycle', () => (events.length > 0 ? true : undefined));
  const cancelling = deleteCycleRecords(db.pool, year, async () => {
    events.push('cancellation has the cycle');
  });
  await until('the cancellation to wait for the row', async () => {
    const { rows } = await db.pool.query(
      "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
    );
    return rows.length > 0 ? true : undefined;
  });
  expect(events).toEqual(['starting 1,2']);
  release();
  expect(await starting).toBe(2);
  expect(await cancelling).toMatchObject({ cycles: 1 });
  expect(events).toEqual(['starting 1,2', 'started', 'cancellation has the cycle']);

  // A start that comes after the cancellation finds no cycle and starts nothing.
  expect(await withStartableInputs(db.pool, cycle, async () => 'started')).toBeUndefined();
});
