import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { maskAddress } from '../../services/webhook-address';
import { redactReplyTokens } from '../../common/links';
import { toShanghaiIso } from '../../domain/schedule';
import { NOTICE_KINDS } from '../../domain/model';
import { listNotices, NOTICE_STATUSES } from '../../db/notices-repo';
import { DomainError, errorResponses } from '../errors';
import { MAX_WORK_POINT, strictObject } from '../schemas/input';

const STATUSES = NOTICE_STATUSES;
const CHANNELS = ['email', 'webhook', 'log'] as const;

const QuerySchema = strictObject({
  unit: z.string().trim().min(1).optional().describe('unit id (单位), e.g. jingfa-ju'),
  kind: z.enum(NOTICE_KINDS).optional().describe('notice kind, e.g. reminder, overdue, escalation-office'),
  status: z
    .enum(STATUSES)
    .optional()
    .describe('pending (waiting for its send time or a retry), sending, sent, failed (gave up), skipped'),
  channel: z.enum(CHANNELS).optional(),
  cycle: z.coerce.number().int().min(2000).max(2100).optional().describe('cycle year'),
  workPoint: z.coerce.number().int().min(0).max(MAX_WORK_POINT).optional().describe('work point number (第N条)'),
  limit: z.coerce.number().int().min(1).max(500).default(50).describe('page size, 1–500 (default 50)'),
  cursor: z.string().min(1).optional().describe('nextCursor of the previous page; omit for the first page'),
});

const instant = z.string().describe('ISO-8601 instant in Beijing time (+08:00)');

const NotificationSchema = z
  .object({
    id: z.number().int(),
    key: z.string().describe('idempotency key: workflow ID + event + recipient'),
    workflowId: z.string(),
    cycleYear: z.number().int(),
    workPoint: z.number().int().nullable(),
    unit: z.object({ id: z.string(), name: z.string().nullable() }),
    kind: z.string(),
    period: z.string().nullable(),
    channel: z.string(),
    address: z.string().describe('recipient; webhook URLs are shown without their query (it holds the robot key)'),
    subject: z.string(),
    body: z.string().describe('the text sent; for viewer tokens every reply link in it reads /r/<redacted>'),
    link: z
      .string()
      .nullable()
      .describe(
        'the reply link the notice carries; admin tokens only — viewers get /r/<redacted> (a live link lets its holder report as the unit)',
      ),
    dueAt: instant.nullable(),
    scheduledFor: instant.describe('when the workflow raised the notice'),
    deliverAfter: instant.describe('not sent before: the digest slot, or the end of quiet hours'),
    digest: z.boolean().describe('true: collected into the daily digest; false: sent on its own'),
    digestId: z.number().int().nullable().describe('the digest message that carried it (sent digests only)'),
    status: z.enum(STATUSES),
    attempts: z.number().int(),
    lastError: z.string().nullable(),
    nextAttemptAt: instant.nullable().describe('earliest retry after a failed attempt'),
    createdAt: instant,
    deliveredAt: instant.nullable(),
  })
  .meta({ id: 'Notification' });

const PageSchema = z.object({
  items: z.array(NotificationSchema),
  total: z.number().int().describe('notices matching the filters, over all pages'),
  limit: z.number().int(),
  nextCursor: z.string().nullable().describe('pass as cursor for the next page; null on the last page'),
});

/** Pages run newest first by id; the cursor is the last id seen, wrapped so clients treat it as opaque. */
const encodeCursor = (id: string): string => Buffer.from(JSON.stringify({ before: id })).toString('base64url');

function decodeCursor(cursor: string): string {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    const before = (parsed as { before?: unknown } | null)?.before;
    if (typeof before === 'string' && /^\d{1,18}$/.test(before)) return before;
  } catch {
    // fall through to the error below
  }
  throw new DomainError(
    400,
    'invalid_cursor',
    '分页游标无效：请使用上一页返回的 nextCursor，或省略它从第一页开始 / invalid cursor: pass the nextCursor of the previous page',
  );
}

const iso = (d: Date): string => toShanghaiIso(d.getTime());

const notifications: FastifyPluginAsyncZod = async (app) => {
  app.get(
    '/api/notifications',
    {
      schema: {
        tags: ['notifications'],
        summary: 'The notification log (通知记录): every notice, its channel, digest and delivery state',
        description:
          'Filters combine with AND. Newest first; page with limit and the opaque nextCursor. ' +
          '`status=failed` lists what never reached its unit, with last_error. ' +
          'Reply links are live credentials of a unit: only admin tokens see them; for viewer tokens the token part ' +
          'of every reply link (in `link`, `subject` and `body`) reads `/r/<redacted>`.',
        querystring: QuerySchema,
        response: { 200: PageSchema, ...errorResponses },
      },
    },
    async (request) => {
      const q = request.query;
      // A viewer reads the log but must not be able to act as a unit: reply links work without any account.
      const shown = request.actor?.role === 'admin' ? (text: string) => text : redactReplyTokens;
      const { rows, total } = await listNotices(
        app.db,
        {
          unitId: q.unit,
          kind: q.kind,
          status: q.status,
          channel: q.channel,
          cycleYear: q.cycle,
          workPoint: q.workPoint,
        },
        { before: q.cursor === undefined ? undefined : decodeCursor(q.cursor), limit: q.limit + 1 },
      );

      const items = rows.slice(0, q.limit);
      const last = items[items.length - 1];
      return {
        items: items.map((r) => ({
          id: Number(r.id),
          key: r.idempotencyKey,
          workflowId: r.workflowId,
          cycleYear: r.cycleYear,
          workPoint: r.workPoint,
          unit: { id: r.unitId, name: r.unitName },
          kind: r.kind,
          period: r.period,
          channel: r.channel,
          address: maskAddress(r.channel, r.address),
          subject: shown(r.subject),
          body: shown(r.body),
          link: r.link === null ? null : shown(r.link),
          dueAt: r.dueAt ? iso(r.dueAt) : null,
          scheduledFor: iso(r.scheduledFor),
          deliverAfter: iso(r.deliverAfter),
          digest: r.digest,
          digestId: r.digestId !== null ? Number(r.digestId) : null,
          status: r.status,
          attempts: r.attempts,
          lastError: r.lastError,
          nextAttemptAt: r.nextAttemptAt ? iso(r.nextAttemptAt) : null,
          createdAt: iso(r.createdAt),
          deliveredAt: r.deliveredAt ? iso(r.deliveredAt) : null,
        })),
        total,
        limit: q.limit,
        nextCursor: rows.length > q.limit && last ? encodeCursor(last.id) : null,
      };
    },
  );
};

export default notifications;
