import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createPool } from '../db/pool';
import { latestPlanIdForYear, savePlan } from '../db/plans-repo';
import { countUnits, importDirectory } from '../db/units-repo';
import { DEMO_DIRECTORY_LABEL, DEMO_UNIT_DIRECTORY } from '../domain/demo-directory';
import { parsePlan } from '../domain/plan-parser';

export const SEED_PLAN_PATH = path.join(__dirname, '..', 'data', 'seeds', '000_69415ce730313519.txt');

/**
 * First run of the embedded stack: a clearly labelled demo directory (only when the directory is
 * empty, so real data is never overwritten) and the 2023 plan (only when no 2023 plan exists).
 */
export async function seedDemo(databaseUrl: string, log: (m: string) => void): Promise<void> {
  const pool = createPool(databaseUrl, { max: 2 });
  try {
    if ((await countUnits(pool)) === 0) {
      await importDirectory(pool, DEMO_UNIT_DIRECTORY, { demo: true });
      log(`seed: loaded ${DEMO_UNIT_DIRECTORY.units.length} units — ${DEMO_DIRECTORY_LABEL}`);
    }
    if ((await latestPlanIdForYear(pool, 2023)) === undefined) {
      const text = readFileSync(SEED_PLAN_PATH, 'utf8');
      const { plan, warnings } = parsePlan(text);
      if (!plan || plan.year === null) throw new Error(`seed plan ${SEED_PLAN_PATH} could not be parsed`);
      const { id } = await savePlan(pool, { ...plan, year: plan.year }, text, warnings);
      log(`seed: imported the 2023 plan (${plan.workPoints.length} work points) as plan ${id}`);
    }
  } finally {
    await pool.end();
  }
}
