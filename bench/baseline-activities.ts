import type { Pool } from 'pg';
import { parseLinkKeys, replyUrl, signLink } from '../common/links';
import { insertBaselineNotices, insertBaselineReports, type BaselineReportRow } from '../db/bench-queries';
import { renderNotice } from '../services/notice-templates';

/**
 * The baseline's local activities: the rows duban's `persist` writes, without duban's reads (directory, drills)
 * and status projection — an assignment notice per unit, rendered and linked the same way, and a report row.
 */

export interface BaselineUnit {
  id: string;
  name: string;
}

export type BaselineReport = BaselineReportRow;

export interface WriteAssignmentsInput {
  workflowId: string;
  year: number;
  workPoint: number;
  title: string;
  units: BaselineUnit[];
  dueAt: number;
  scheduledFor: number;
}

export function createBaselineActivities(pool: Pool, linkSecret: string, publicBaseUrl: string) {
  const keys = parseLinkKeys(linkSecret);
  return {
    async writeAssignments(input: WriteAssignmentsInput): Promise<number> {
      const rows = input.units.map((unit) => {
        const key = `${input.workflowId}:assignment:P1:${unit.id}`;
        const link = replyUrl(
          publicBaseUrl,
          signLink(keys, {
            y: input.year,
            wp: input.workPoint,
            u: unit.id,
            p: 'report',
            per: 'P1',
            exp: Math.floor(input.dueAt / 1000) + 400 * 86_400,
          }),
        );
        const { subject, body } = renderNotice(
          {
            key,
            workflowId: input.workflowId,
            cycleYear: input.year,
            workPoint: input.workPoint,
            workPointTitle: input.title,
            unitId: unit.id,
            kind: 'assignment',
            periodId: 'P1',
            periodLabel: '演练时段',
            dueAt: input.dueAt,
            scheduledFor: input.scheduledFor,
            link: 'report',
          },
          unit.name,
          link,
        );
        return {
          key,
          workflowId: input.workflowId,
          cycleYear: input.year,
          workPoint: input.workPoint,
          unitId: unit.id,
          subject,
          body,
          link,
          scheduledFor: input.scheduledFor,
          dueAt: input.dueAt,
        };
      });
      return insertBaselineNotices(pool, rows);
    },

    async insertReports(reports: BaselineReport[]): Promise<number> {
      return insertBaselineReports(pool, reports);
    },
  };
}

export type BaselineActivities = ReturnType<typeof createBaselineActivities>;
