import type { Pool } from 'pg';

/**
 * The office's per-work-point choices for selection groups (unit_group_selections), as stored: group → "default" or
 * the work point number → unit ids. Read without validating the whole directory (db/units-repo.ts loadDirectory
 * does, and throws on a directory without an office, i.e. on every fresh install).
 */
export async function listGroupSelections(db: Pool): Promise<Record<string, Record<string, string[]>>> {
  const { rows } = await db.query<{ group_name: string; work_point: number; unit_ids: string[] }>(
    'SELECT group_name, work_point, unit_ids FROM unit_group_selections ORDER BY group_name, work_point',
  );
  const groupSelections: Record<string, Record<string, string[]>> = {};
  for (const r of rows) {
    (groupSelections[r.group_name] ??= {})[r.work_point === 0 ? 'default' : String(r.work_point)] = r.unit_ids;
  }
  return groupSelections;
}
