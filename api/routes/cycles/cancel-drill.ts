import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { WorkflowNotFoundError } from '@temporalio/client';
import { insertPendingAudit, settleAudit } from '../../../db/audit-repo';
import { cycleWorkPointNumbers, deleteCycleRecords, getCycleRecord, isDrillOptions } from '../../../db/cycles-repo';
import { cycleWorkflowId, workPointWorkflowId } from '../../../workflows/shared';
import { DomainError, errorResponses } from '../../errors';
import { NoQuery } from '../../schemas/input';
import { YearParams } from './schemas';

/** DELETE /api/cycles/:year: cancel a drill (演练), so its year is free again. */
const cancelDrill: FastifyPluginAsyncZod = async (app) => {
  app.delete(
    '/api/cycles/:year',
    {
      schema: {
        tags: ['cycles'],
        summary: 'Cancel a drill (演练): stop its workflows and remove its records, so the year is free again',
        description:
          'Only a cycle started with options.drill = true can be cancelled; a real cycle answers 409 not_a_drill. ' +
          'The audit trail keeps the cancellation.',
        params: YearParams,
        querystring: NoQuery,
        response: {
          200: z.object({
            year: z.number().int(),
            cancelled: z.literal(true),
            terminated: z.array(z.string()).describe('workflows that were still running'),
            deleted: z.record(z.string(), z.number().int()).describe('rows removed, per table'),
          }),
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const { year } = request.params;
      const cycle = await getCycleRecord(app.db, year);
      if (!cycle) throw new DomainError(404, 'cycle_not_found', `没有 ${year} 年度周期 / no cycle for ${year}`);
      if (!isDrillOptions(cycle.options)) {
        throw new DomainError(
          409,
          'not_a_drill',
          `${year} 年度周期是正式督办，不是演练，不能取消；如需调整请用延期、免报等操作 / the ${year} cycle is not a drill and cannot be cancelled`,
        );
      }
      const actor = request.actor?.name ?? 'unknown';
      const auditId = await insertPendingAudit(app.db, {
        actor,
        action: 'cancel-drill',
        target: cycleWorkflowId(year),
        reason: '取消演练 / drill cancelled',
        details: { year },
      });
      const terminated: string[] = [];
      const terminate = async (id: string) => {
        try {
          await app.temporal.workflow.getHandle(id).terminate(`演练已取消 / drill cancelled by ${actor}`);
          terminated.push(id);
        } catch (err) {
          // Already finished or never started: nothing to stop.
          if (!(err instanceof WorkflowNotFoundError)) throw err;
        }
      };
      // The cycle first, so it asks for no more starts. Its work points are not its children (an activity starts
      // them by id): they are stopped by id while the cycle's row is locked, which holds back a start in flight
      // until the records are gone, after which nothing of the cycle starts again.
      await terminate(cycleWorkflowId(year));
      const deleted = await deleteCycleRecords(app.db, year, async () => {
        for (const n of await cycleWorkPointNumbers(app.db, year)) await terminate(workPointWorkflowId(year, n));
      });
      await settleAudit(app.db, auditId, 'accepted', { terminated: terminated.length, deleted });
      return { year, cancelled: true as const, terminated, deleted };
    },
  );
};

export default cancelDrill;
