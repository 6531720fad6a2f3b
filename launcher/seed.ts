import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createPool } from '../db/pool';
import { latestPlanIdForYear, savePlan } from '../db/plans-repo';
import { createToken, verifyToken } from '../db/tokens-repo';
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

/**
 * The embedded stack's first admin token, so the dashboard and the API can be used right away.
 * Kept in DATA_DIR/admin-token (mode 0600); a revoked or lost one is replaced on the next start.
 */
export async function ensureDemoAdminToken(
  databaseUrl: string,
  dataDir: string,
  log: (m: string) => void,
): Promise<string> {
  const file = path.join(dataDir, 'admin-token');
  const pool = createPool(databaseUrl, { max: 1 });
  try {
    if (existsSync(file) && (await verifyToken(pool, readFileSync(file, 'utf8').trim()))) return file;
    const { token } = await createToken(pool, { name: 'npm start (first admin)', role: 'admin' });
    writeFileSync(file, `${token}\n`, { mode: 0o600 });
    log(`created an admin API token in ${file}`);
    return file;
  } finally {
    await pool.end();
  }
}
