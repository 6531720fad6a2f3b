import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { LinkKeys } from '../../../common/links';
import { getAttachment, listSent } from '../../../db/replies-repo';
import { acknowledgeSignal } from '../../../workflows/shared';
import { html } from '../../views/html';
import { withContext } from './context';
import type { ReplyLookups } from './lookups';
import { renderReplyPage } from './page';
import { sendPage } from './respond';

/** GET /r/:token (the page, recording 签收 on first opening) and GET /r/:token/files/:id (a unit's own evidence file). */
export default async function replyOpen(
  app: FastifyInstance,
  opts: { keys: LinkKeys; lookups: ReplyLookups },
): Promise<void> {
  app.get<{ Params: { token: string } }>('/r/:token', { schema: { hide: true } }, async (request, reply) => {
    const ctx = await withContext(app, opts.lookups, opts.keys, request, reply);
    if (!ctx) return reply;
    // The first opening of the link records receipt (签收); a Temporal outage must not block the page.
    if (!ctx.acknowledged && ctx.claims.p !== 'summary' && !ctx.closed) {
      try {
        await app.temporal.withDeadline(Date.now() + 2_000, () =>
          app.temporal.workflow
            .getHandle(ctx.workflowId)
            .signal(acknowledgeSignal, { unitId: ctx.unit.id, at: Date.now() }),
        );
      } catch (err) {
        request.log.warn(
          { err, workflowId: ctx.workflowId, unit: ctx.unit.id },
          'could not record 签收; it will be recorded on the next opening or report',
        );
      }
    }
    const { title, body } = await renderReplyPage(app, ctx, { submissionId: randomUUID(), text: '' });
    return sendPage(reply, 200, title, body);
  });

  app.get<{ Params: { token: string; id: string } }>(
    '/r/:token/files/:id',
    { schema: { hide: true } },
    async (request, reply) => {
      const ctx = await withContext(app, opts.lookups, opts.keys, request, reply);
      if (!ctx) return reply;
      const file = await getAttachment(app.db, request.params.id);
      const sent = await listSent(app.db, {
        year: ctx.claims.y,
        workPoint: ctx.claims.wp,
        unitId: ctx.unit.id,
        period: ctx.periodId,
      });
      const mine = file && sent.stored.some((r) => r.submissionId === file.submissionId);
      if (!file || !mine) return sendPage(reply, 404, '未找到', html`<section><h2>未找到该文件</h2></section>`);
      return reply
        .type(file.contentType)
        .header('content-disposition', `attachment; filename*=UTF-8''${encodeURIComponent(file.name)}`)
        .send(file.data);
    },
  );
}
