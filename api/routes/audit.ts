import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { toShanghaiIso } from '../../domain/schedule';
import { AUDIT_OUTCOMES, listAudit } from '../../db/audit-repo';
import { DomainError, errorResponses } from '../errors';
import { strictObject } from '../schemas/input';

const QuerySchema = strictObject({
  actor: z.string().trim().min(1).optional().describe('token name, e.g. office-admin'),
  action: z
    .string()
    .trim()
    .min(1)
    .optional()
    .describe('extend, waive, reassign, add-unit, remove-unit, decide-extension, return, remind, rate'),
  target: z.string().trim().min(1).optional().describe('workflow ID, e.g. wp-2023-05'),
  outcome: z
    .enum(AUDIT_OUTCOMES)
    .optional()
    .describe('accepted (Temporal took the signal), failed (nothing happened), unknown (no answer in time), pending'),
  limit: z.coerce.number().int().min(1).max(500).default(50).describe('page size, 1–500 (default 50)'),
  cursor: z.string().min(1).optional().describe('nextCursor of the previous page; omit for the first page'),
});

const AuditEntrySchema = z
  .object({
    id: z.number().int(),
    at: z.string().describe('ISO-8601 instant in Beijing time (+08:00)'),
    actor: z.string().describe('the API token name'),
    action: z.string(),
    target: z.string().describe('the workflow acted on'),
    reason: z.string().nullable(),
    outcome: z.enum(AUDIT_OUTCOMES).nullable(),
    details: z.record(z.string(), z.unknown()).describe('the request, resolved units, run ID, token ID, error, …'),
  })
  .meta({ id: 'AuditEntry' });

const PageSchema = z.object({
  items: z.array(AuditEntrySchema),
  total: z.number().int().describe('entries matching the filters, over all pages'),
  limit: z.number().int(),
  nextCursor: z.string().nullable().describe('pass as cursor for the next page; null on the last page'),
});

/** Pages run newest first by id; the cursor is the last id seen, wrapped so clients treat it as opaque. */
const encodeCursor = (id: number): string => Buffer.from(JSON.stringify({ before: id })).toString('base64url');

function decodeCursor(cursor: string): number {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    const before = (parsed as { before?: unknown } | null)?.before;
    if (typeof before === 'number' && Number.isSafeInteger(before) && before > 0) return before;
  } catch {
    // fall through to the error below
  }
  throw new DomainError(
    400,
    'invalid_cursor',
    '分页游标无效：请使用上一页返回的 nextCursor，或省略它从第一页开始 / invalid cursor: pass the nextCursor of the previous page',
  );
}

const audit: FastifyPluginAsyncZod = async (app) => {
  app.get(
    '/api/audit',
    {
      schema: {
        tags: ['audit'],
        summary: 'The audit trail (操作记录): who did what to which work point, why, and whether it took effect',
        description:
          'Filters combine with AND. Newest first; page with limit and the opaque nextCursor. Viewer tokens may read.',
        querystring: QuerySchema,
        response: { 200: PageSchema, ...errorResponses },
      },
    },
    async (request) => {
      const q = request.query;
      const before = q.cursor !== undefined ? decodeCursor(q.cursor) : undefined;
      const page = await listAudit(
        app.db,
        { actor: q.actor, action: q.action, target: q.target, outcome: q.outcome },
        { limit: q.limit, before },
      );
      const last = page.items[page.items.length - 1];
      return {
        items: page.items.map((e) => ({
          id: e.id,
          at: toShanghaiIso(e.at.getTime()),
          actor: e.actor,
          action: e.action,
          target: e.target,
          reason: e.reason,
          outcome: e.outcome,
          details: e.details,
        })),
        total: page.total,
        limit: q.limit,
        nextCursor: page.more && last ? encodeCursor(last.id) : null,
      };
    },
  );
};

export default audit;
