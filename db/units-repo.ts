import type { Pool, PoolClient } from 'pg';
import { UnitDirectorySchema, type Unit, type UnitDirectory } from '../domain/units';
import { inTransaction } from './pool';

type Queryable = Pool | PoolClient;

interface UnitRow {
  id: string;
  name: string;
  aliases: string[];
  kind: Unit['kind'];
  tags: string[];
  contacts: Unit['contacts'];
  active: boolean;
  demo: boolean;
}

export type StoredUnit = Unit & { demo: boolean };

export async function listUnits(db: Queryable): Promise<StoredUnit[]> {
  const { rows } = await db.query<UnitRow>(
    'SELECT id, name, aliases, kind, tags, contacts, active, demo FROM units ORDER BY kind, name',
  );
  return rows.map((r) => ({ ...r }));
}

export async function loadDirectory(db: Queryable): Promise<UnitDirectory> {
  const units = await listUnits(db);
  const groupSelections = await listGroupSelections(db);
  // Stored data passed this schema on the way in; parsing again keeps the types honest.
  return UnitDirectorySchema.parse({ units: units.map(({ demo: _demo, ...u }) => u), groupSelections });
}

/**
 * Bulk import: every given unit is inserted or updated; units missing from the import are
 * deactivated, never deleted (reports and notices refer to them, and a mistake must be undoable).
 */
export async function importDirectory(
  pool: Pool,
  directory: UnitDirectory,
  opts: { demo?: boolean } = {},
): Promise<{ upserted: number; deactivated: string[] }> {
  return inTransaction(pool, async (client) => {
    for (const u of directory.units) {
      await client.query(
        `INSERT INTO units (id, name, aliases, kind, tags, contacts, active, demo, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now())
         ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, aliases = EXCLUDED.aliases, kind = EXCLUDED.kind,
           tags = EXCLUDED.tags, contacts = EXCLUDED.contacts, active = EXCLUDED.active, demo = EXCLUDED.demo,
           updated_at = now()`,
        [u.id, u.name, u.aliases, u.kind, u.tags, JSON.stringify(u.contacts), u.active, opts.demo ?? false],
      );
    }
    const { rows } = await client.query<{ id: string }>(
      `UPDATE units SET active = false, updated_at = now() WHERE active AND NOT (id = ANY($1)) RETURNING id`,
      [directory.units.map((u) => u.id)],
    );
    for (const [group, byWorkPoint] of Object.entries(directory.groupSelections)) {
      for (const [key, unitIds] of Object.entries(byWorkPoint)) {
        await setGroupSelection(client, group, key === 'default' ? 0 : Number(key), unitIds);
      }
    }
    return { upserted: directory.units.length, deactivated: rows.map((r) => r.id) };
  });
}

export async function setGroupSelection(
  db: Queryable,
  group: string,
  workPoint: number,
  unitIds: string[],
): Promise<void> {
  await db.query(
    `INSERT INTO unit_group_selections (group_name, work_point, unit_ids, updated_at) VALUES ($1, $2, $3, now())
     ON CONFLICT (group_name, work_point) DO UPDATE SET unit_ids = EXCLUDED.unit_ids, updated_at = now()`,
    [group, workPoint, unitIds],
  );
}

export async function countUnits(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ n: string }>('SELECT count(*) AS n FROM units');
  return Number(rows[0]?.n ?? 0);
}

/** The names and contacts of some units, by id; ids the directory does not hold are absent. */
export async function unitContacts(
  db: Queryable,
  ids: string[],
): Promise<Map<string, { id: string; name: string; contacts: Unit['contacts'] }>> {
  const { rows } = await db.query<{ id: string; name: string; contacts: Unit['contacts'] }>(
    'SELECT id, name, contacts FROM units WHERE id = ANY($1)',
    [ids],
  );
  return new Map(rows.map((r) => [r.id, r]));
}

/**
 * The office's per-work-point choices for selection groups (unit_group_selections), as stored: group → "default" or
 * the work point number → unit ids. Read without validating the whole directory (db/units-repo.ts loadDirectory
 * does, and throws on a directory without an office, i.e. on every fresh install).
 */
export async function listGroupSelections(db: Queryable): Promise<Record<string, Record<string, string[]>>> {
  const { rows } = await db.query<{ group_name: string; work_point: number; unit_ids: string[] }>(
    'SELECT group_name, work_point, unit_ids FROM unit_group_selections ORDER BY group_name, work_point',
  );
  const groupSelections: Record<string, Record<string, string[]>> = {};
  for (const r of rows) {
    (groupSelections[r.group_name] ??= {})[r.work_point === 0 ? 'default' : String(r.work_point)] = r.unit_ids;
  }
  return groupSelections;
}
