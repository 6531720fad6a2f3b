import type { Pool, PoolClient } from 'pg';
import type { StatusUpdate } from '../domain/model';
import { inTransaction } from './pool';
import { ts } from './sql';

/**
 * The work points' status projection, as their workflows write it: work_point_status (one row per work point),
 * work_point_obligations (one per unit and period) and work_point_timeline (append-only). Temporal owns the state;
 * these rows are its copy for the API to read. Every write is guarded by the update's version, so an older update
 * (a retry, a late activity) never overwrites a newer one.
 */

/** Writes one status update in one transaction, one statement per table. */
export async function writeStatus(pool: Pool, update: StatusUpdate): Promise<void> {
  await inTransaction(pool, (client) => writeStatusIn(client, update));
}

async function writeStatusIn(client: PoolClient, update: StatusUpdate): Promise<void> {
  const { summary: status, version } = update;
  const wp = [status.workflowId, status.cycleYear, status.number] as const;
  await client.query(
    `INSERT INTO work_point_status (workflow_id, cycle_year, work_point, status, light, overdue_units, snapshot, version, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now())
     ON CONFLICT (workflow_id) DO UPDATE SET status = EXCLUDED.status, light = EXCLUDED.light,
       overdue_units = EXCLUDED.overdue_units, snapshot = EXCLUDED.snapshot, version = EXCLUDED.version, updated_at = now()
     WHERE work_point_status.version < EXCLUDED.version`,
    [...wp, status.phase, status.light, status.overdueUnits.map((u) => u.id), JSON.stringify(status), version],
  );
  if (update.obligations.length > 0) {
    await client.query(
      `INSERT INTO work_point_obligations (workflow_id, cycle_year, work_point, unit_id, unit_name, period, state, due_at,
                                           acknowledged_at, last_submitted_at, submissions, extension, version, facts)
       SELECT $1, $2, $3, x."unitId", x."unitName", x."periodId", x.state, ${ts('x."dueAt"')}, ${ts('x."acknowledgedAt"')},
              ${ts('x."lastSubmittedAt"')}, x.submissions, x.extension, $4, x.facts
         FROM jsonb_to_recordset($5::jsonb) AS x("unitId" text, "unitName" text, "periodId" text, state text,
              "dueAt" float8, "acknowledgedAt" float8, "lastSubmittedAt" float8, submissions integer, extension jsonb,
              facts jsonb)
       ON CONFLICT (workflow_id, unit_id, period) DO UPDATE SET unit_name = EXCLUDED.unit_name, state = EXCLUDED.state,
         due_at = EXCLUDED.due_at, acknowledged_at = EXCLUDED.acknowledged_at, last_submitted_at = EXCLUDED.last_submitted_at,
         submissions = EXCLUDED.submissions, extension = EXCLUDED.extension, version = EXCLUDED.version,
         facts = EXCLUDED.facts
       WHERE work_point_obligations.version < EXCLUDED.version`,
      [...wp, version, JSON.stringify(update.obligations)],
    );
  }
  if (update.removedObligations.length > 0) {
    await client.query(
      `DELETE FROM work_point_obligations o USING jsonb_to_recordset($2::jsonb) AS x("unitId" text, "periodId" text)
        WHERE o.workflow_id = $1 AND o.unit_id = x."unitId" AND o.period = x."periodId" AND o.version < $3`,
      [status.workflowId, JSON.stringify(update.removedObligations), version],
    );
  }
  if (update.timeline.length > 0) {
    await client.query(
      `INSERT INTO work_point_timeline (workflow_id, seq, at, kind, unit_id, period, detail)
       SELECT $1, $2 + x.ord - 1, ${ts("(x.e ->> 'at')::float8")}, x.e ->> 'kind', x.e ->> 'unitId', x.e ->> 'periodId',
              x.e ->> 'detail'
         FROM jsonb_array_elements($3::jsonb) WITH ORDINALITY AS x(e, ord)
       ON CONFLICT DO NOTHING`,
      [status.workflowId, update.timelineFrom, JSON.stringify(update.timeline)],
    );
  }
}
