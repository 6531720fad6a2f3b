/**
 * The chaos drill, short: one fault of each kind while a drill cycle of seconds runs and departments submit.
 * `npm run chaos` runs the long version with the same module.
 */
import { runChaos } from '../../chaos/chaos';

test('with the worker killed, Temporal and the API restarted and database connections cut, no report answered 已收到 is lost or counted twice, and every notice is recorded once', async () => {
  const lines: string[] = [];
  const result = await runChaos({
    faults: 4,
    workPoints: 2,
    unitsPerWorkPoint: 4,
    dueS: 20,
    leadS: 6,
    officeS: 12,
    seed: 42,
    settleS: 45,
    adminDatabaseUrl: process.env.TEST_ADMIN_DATABASE_URL,
    databaseName: `${process.env.TEST_DATABASE_NAME ?? 'duban_test'}_chaos`,
    log: (m) => lines.push(m),
  });
  if (result.violations.length > 0) console.log([...lines, ...result.notes, result.line].join('\n'));
  expect(result.faults.map((f) => f.type).sort()).toEqual(['api', 'postgres', 'temporal', 'worker']);
  expect(result.reports).toBeGreaterThan(0);
  // The drill really sent one submission id twice to a workflow (see the 'interrupted' variant in chaos/chaos.ts).
  expect(result.stats.interrupted).toBeGreaterThan(0);
  expect(result.lost).toEqual([]);
  expect(result.duplicated).toEqual([]);
  expect(result.violations).toEqual([]);
}, 150_000);
