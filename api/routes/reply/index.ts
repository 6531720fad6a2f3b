import type { FastifyInstance } from 'fastify';
import multipart from '@fastify/multipart';
import formbody from '@fastify/formbody';
import { parseLinkKeys } from '../../../common/links';
import { MULTIPART_LIMITS } from './form';
import { createReplyLookups } from './lookups';
import replyOpen from './open';
import replySubmit from './submit';

/**
 * The reply page (报送页面) a unit opens from the link in a notice: no account, zh-CN, works on a phone and without
 * JavaScript. context.ts reads what the link stands for (lookups.ts caches what never changes for its key); page.ts
 * renders the page; open.ts serves it and the unit's files; form.ts reads what is posted; submit.ts has the workflow
 * judge it and gives the receipt.
 */

export { FILE_MAX_BYTES, FILES_MAX, FILES_TOTAL_MAX_BYTES, REPORT_TEXT_MAX } from './form';
export { scopedSubmissionId } from './submit';

export default async function replyRoutes(
  app: FastifyInstance,
  opts: {
    linkSecret: string;
    /** How long the page waits for the workflow's verdict (and the report stored) before it says "not confirmed". */
    submitTimeoutMs: number;
  },
): Promise<void> {
  const keys = parseLinkKeys(opts.linkSecret);
  // One cache per app, which in production is one per process.
  const lookups = createReplyLookups(app.db);
  await app.register(formbody);
  await app.register(multipart, { limits: MULTIPART_LIMITS });
  await replyOpen(app, { keys, lookups });
  await replySubmit(app, { keys, lookups, submitTimeoutMs: opts.submitTimeoutMs });
}
