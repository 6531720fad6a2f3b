import type { Pool } from 'pg';
import type { ReportRecord } from '../domain/model';
import { ts } from './sql';

/**
 * The reports table as the work points write it: progress reports and year-end summaries the workflow accepted,
 * one row per submission id. The reply page's reads of the same table are in replies-repo.ts.
 */

/** Stores reports and summaries in one statement; the submission id (unique) makes a retry land once. */
export async function writeReports(pool: Pool, reports: ReportRecord[]): Promise<{ stored: number }> {
  if (reports.length === 0) return { stored: 0 };
  const res = await pool.query(
    `INSERT INTO reports (submission_id, workflow_id, cycle_year, work_point, unit_id, period, kind, text, attachments,
                          self_assessment, late, submitted_at)
     SELECT x."submissionId", x."workflowId", x."cycleYear", x."workPoint", x."unitId", x."periodId", x.kind, x.text,
            COALESCE(x.attachments, '[]'), x."selfAssessment", x.late, ${ts('x."submittedAt"')}
       FROM jsonb_to_recordset($1::jsonb) AS x("submissionId" text, "workflowId" text, "cycleYear" integer,
            "workPoint" integer, "unitId" text, "periodId" text, kind text, text text, attachments jsonb,
            "selfAssessment" text, late boolean, "submittedAt" float8)
     ON CONFLICT (submission_id) DO NOTHING`,
    [JSON.stringify(reports)],
  );
  return { stored: res.rowCount ?? 0 };
}
