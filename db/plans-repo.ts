import { createHash } from 'node:crypto';
import type { Pool } from 'pg';
import type { ParseWarning, Plan, WorkPoint } from '../domain/plan';
import { inTransaction } from './pool';

export interface StoredPlan extends Plan {
  id: number;
  year: number;
  createdAt: string;
  warnings: ParseWarning[];
}

export interface PlanSummary {
  id: number;
  year: number;
  title: string | null;
  docNumber: string | null;
  issuedAt: string | null;
  workPoints: number;
  warnings: number;
  createdAt: string;
  /** The plan this one was carried over from (POST /api/plans/:id/copy), if any. */
  derivedFrom: number | null;
}

/** Stores a parsed plan with its source text. The same document imported again returns the stored plan. */
export async function savePlan(
  pool: Pool,
  plan: Plan & { year: number },
  sourceText: string,
  warnings: ParseWarning[],
): Promise<{ id: number; created: boolean }> {
  const sha = createHash('sha256').update(sourceText).digest('hex');
  return inTransaction(pool, async (client) => {
    const existing = await client.query<{ id: string }>('SELECT id FROM plans WHERE source_sha256 = $1', [sha]);
    if (existing.rows[0]) return { id: Number(existing.rows[0].id), created: false };
    const { rows } = await client.query<{ id: string }>(
      `INSERT INTO plans (year, title, issuer, doc_number, issued_at, source_text, source_sha256, warnings, sections)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
      [
        plan.year,
        plan.title,
        plan.issuer,
        plan.docNumber,
        plan.issuedAt,
        sourceText,
        sha,
        JSON.stringify(warnings),
        JSON.stringify(plan.sections),
      ],
    );
    const id = Number(rows[0]?.id);
    for (const wp of plan.workPoints) {
      await client.query(
        `INSERT INTO work_points (plan_id, number, section, title, text, lead_units, responsible_units)
         VALUES ($1, $2, $3, $4, $5, $6, $7)`,
        [id, wp.number, wp.section, wp.title, wp.text, wp.leadUnits, wp.responsibleUnits],
      );
    }
    return { id, created: true };
  });
}

/**
 * Carries a plan into another year: the same sections and work points, the year and the year in its title changed,
 * recorded as derived from the original. Copying the same plan into the same year again returns the first copy.
 * The cycle's dates come from the schedule of the year it runs in, so nothing else needs re-computing.
 */
export async function copyPlan(
  pool: Pool,
  id: number,
  year: number,
): Promise<{ id: number; created: boolean; derivedFrom: number } | undefined> {
  return inTransaction(pool, async (client) => {
    const original = await client.query<{ year: number; title: string | null; source_sha256: string }>(
      'SELECT year, title, source_sha256 FROM plans WHERE id = $1',
      [id],
    );
    const from = original.rows[0];
    if (!from) return undefined;
    const existing = await client.query<{ id: string }>('SELECT id FROM plans WHERE derived_from = $1 AND year = $2', [
      id,
      year,
    ]);
    if (existing.rows[0]) return { id: Number(existing.rows[0].id), created: false, derivedFrom: id };
    const title = from.title?.replaceAll(String(from.year), String(year)) ?? null;
    const sha = createHash('sha256').update(`${from.source_sha256}:copy:${year}`).digest('hex');
    const { rows } = await client.query<{ id: string }>(
      `INSERT INTO plans (year, title, issuer, doc_number, issued_at, source_text, source_sha256, warnings, sections,
                          derived_from)
       SELECT $2, $3, issuer, doc_number, issued_at, source_text, $4, warnings, sections, id FROM plans WHERE id = $1
       RETURNING id`,
      [id, year, title, sha],
    );
    const copy = Number(rows[0]?.id);
    await client.query(
      `INSERT INTO work_points (plan_id, number, section, title, text, lead_units, responsible_units, origin)
       SELECT $2, number, section, title, text, lead_units, responsible_units, origin FROM work_points WHERE plan_id = $1`,
      [id, copy],
    );
    return { id: copy, created: true, derivedFrom: id };
  });
}

interface PlanRow {
  id: string;
  year: number;
  title: string | null;
  issuer: string | null;
  doc_number: string | null;
  issued_at: string | null;
  warnings: ParseWarning[];
  sections: Plan['sections'];
  created_at: Date;
}

export async function getPlan(pool: Pool, id: number): Promise<StoredPlan | undefined> {
  const { rows } = await pool.query<PlanRow>(
    `SELECT id, year, title, issuer, doc_number, to_char(issued_at, 'YYYY-MM-DD') AS issued_at, warnings, sections, created_at
     FROM plans WHERE id = $1`,
    [id],
  );
  const row = rows[0];
  if (!row) return undefined;
  const wps = await pool.query<{
    number: number;
    section: string | null;
    title: string;
    text: string;
    lead_units: string[];
    responsible_units: string[];
  }>(
    'SELECT number, section, title, text, lead_units, responsible_units FROM work_points WHERE plan_id = $1 ORDER BY number',
    [id],
  );
  const workPoints: WorkPoint[] = wps.rows.map((w) => ({
    number: w.number,
    section: w.section,
    title: w.title,
    text: w.text,
    leadUnits: w.lead_units,
    responsibleUnits: w.responsible_units,
  }));
  return {
    id: Number(row.id),
    year: row.year,
    title: row.title,
    issuer: row.issuer,
    docNumber: row.doc_number,
    issuedAt: row.issued_at,
    sections: row.sections,
    workPoints,
    warnings: row.warnings,
    createdAt: row.created_at.toISOString(),
  };
}

export async function listPlans(pool: Pool): Promise<PlanSummary[]> {
  const { rows } = await pool.query<{
    id: string;
    year: number;
    title: string | null;
    doc_number: string | null;
    issued_at: string | null;
    work_points: string;
    warnings: number;
    created_at: Date;
    derived_from: string | null;
  }>(
    `SELECT p.id, p.year, p.title, p.doc_number, to_char(p.issued_at, 'YYYY-MM-DD') AS issued_at,
            (SELECT count(*) FROM work_points w WHERE w.plan_id = p.id) AS work_points,
            jsonb_array_length(p.warnings) AS warnings, p.created_at, p.derived_from
     FROM plans p ORDER BY p.year DESC, p.id DESC`,
  );
  return rows.map((r) => ({
    id: Number(r.id),
    year: r.year,
    title: r.title,
    docNumber: r.doc_number,
    issuedAt: r.issued_at,
    workPoints: Number(r.work_points),
    warnings: r.warnings,
    createdAt: r.created_at.toISOString(),
    derivedFrom: r.derived_from === null ? null : Number(r.derived_from),
  }));
}

/** The most recently imported plan for a year (what a cycle uses when no planId is given). */
export async function latestPlanIdForYear(pool: Pool, year: number): Promise<number | undefined> {
  const { rows } = await pool.query<{ id: string }>('SELECT id FROM plans WHERE year = $1 ORDER BY id DESC LIMIT 1', [
    year,
  ]);
  return rows[0] ? Number(rows[0].id) : undefined;
}

/**
 * Where a carried-over work point came from (work_points.origin): the earlier cycle's year, number, workflow ID and
 * rating. `origins[i]` belongs to work point i + 1 of the plan.
 */
export async function setWorkPointOrigins(db: Pool, planId: number, origins: readonly unknown[]): Promise<void> {
  for (const [i, origin] of origins.entries()) {
    await db.query('UPDATE work_points SET origin = $3 WHERE plan_id = $1 AND number = $2', [
      planId,
      i + 1,
      JSON.stringify(origin),
    ]);
  }
}

/** The most recently imported plans, newest first. */
export async function recentPlans(
  db: Pool,
  limit: number,
): Promise<{ id: string; year: number; title: string | null }[]> {
  const { rows } = await db.query<{ id: string; year: number; title: string | null }>(
    'SELECT id, year, title FROM plans ORDER BY id DESC LIMIT $1',
    [limit],
  );
  return rows;
}
