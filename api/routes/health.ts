import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { ping as pingDatabase } from '../../db/admin-repo';

const HealthSchema = z.object({ status: z.literal('ok') });
const ReadySchema = z.object({
  status: z.enum(['ready', 'not_ready']),
  checks: z.object({
    postgres: z.object({ ok: z.boolean(), error: z.string().optional() }),
    temporal: z.object({ ok: z.boolean(), error: z.string().optional() }),
  }),
  message: z.string().optional(),
});

const CHECK_TIMEOUT_MS = 2_000;

async function check(fn: () => Promise<unknown>): Promise<{ ok: boolean; error?: string }> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      fn(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
      }),
    ]);
    return { ok: true };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err) };
  } finally {
    clearTimeout(timer);
  }
}

const health: FastifyPluginAsyncZod = async (app) => {
  app.get(
    '/healthz',
    { schema: { tags: ['health'], summary: 'Liveness: the process answers', response: { 200: HealthSchema } } },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        tags: ['health'],
        summary: 'Readiness: PostgreSQL and Temporal are reachable (503 names what is down)',
        response: { 200: ReadySchema, 503: ReadySchema },
      },
    },
    async (_request, reply) => {
      const [postgres, temporal] = await Promise.all([
        check(() => pingDatabase(app.db)),
        check(() => app.temporal.connection.workflowService.getSystemInfo({})),
      ]);
      const down = [!postgres.ok && 'PostgreSQL', !temporal.ok && 'Temporal'].filter(Boolean);
      if (down.length === 0) return { status: 'ready' as const, checks: { postgres, temporal } };
      return reply.status(503).send({
        status: 'not_ready' as const,
        checks: { postgres, temporal },
        message: `${down.join(' 和 ')} 不可用 / ${down.join(' and ')} unreachable`,
      });
    },
  );
};

export default health;
