import type { IncomingHttpHeaders } from 'node:http';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Pool } from 'pg';
import type { Client } from '@temporalio/client';
import { redactReplyTokens } from '../common/links';
import type { ApiConfig } from '../config';
import { frameworkErrors, installErrorHandler } from './errors';
import { installJsonParser } from './input-limits';
import dbPlugin from './plugins/db';
import temporalPlugin from './plugins/temporal';
import docsPlugin from './plugins/docs';
import securityHeaders from './plugins/security-headers';
import authPlugin from './plugins/auth';
import rateLimitPlugin from './plugins/rate-limit';
import healthRoutes from './routes/health';
import planRoutes from './routes/plans';
import unitRoutes from './routes/units';
import cycleRoutes from './routes/cycles';
import actionRoutes from './routes/actions';
import auditRoutes from './routes/audit';
import notificationRoutes from './routes/notifications';
import replyRoutes from './routes/reply';
import reportRoutes from './routes/reports';
import dashboardRoutes from './routes/dashboard';

export interface AppDeps {
  /** Pass to share a pool/client owned by the caller (tests); otherwise the app creates and closes its own. */
  pool?: Pool;
  temporal?: Client;
}

/** What Fastify logs of a request (its default fields), without reply-link tokens: a token is a unit's credential. */
export function requestLogValue(req: {
  method?: string;
  url?: string;
  headers?: IncomingHttpHeaders;
  host?: string;
  ip?: string;
  socket?: { remotePort?: number };
}): Record<string, unknown> {
  return {
    method: req.method,
    url: req.url === undefined ? undefined : redactReplyTokens(req.url),
    host: req.host,
    remoteAddress: req.ip,
    remotePort: req.socket?.remotePort,
  };
}

/**
 * Builds the Fastify app. It never listens: api/main.ts does, tests use app.inject. `fastifyOptions.logger` may add
 * pino options (a stream, a level); the request serializer that keeps reply tokens out of the logs always applies.
 */
export async function buildApp(
  config: ApiConfig,
  deps: AppDeps = {},
  fastifyOptions: FastifyServerOptions = {},
): Promise<FastifyInstance> {
  const { logger: callerLogger, ...otherOptions } = fastifyOptions;
  const loggerOptions = typeof callerLogger === 'object' ? callerLogger : {};
  const app = Fastify({
    logger:
      callerLogger === false
        ? false
        : {
            level: config.LOG_LEVEL,
            ...loggerOptions,
            serializers: { ...loggerOptions.serializers, req: requestLogValue },
          },
    bodyLimit: 2 * 1024 * 1024,
    // Reply-link tokens (/r/<token>) are longer than Fastify's default 100-character parameter limit.
    routerOptions: { maxParamLength: 512 },
    // A URL with broken %-encoding is refused before routing; answer it in the error shape too.
    frameworkErrors,
    ...otherOptions,
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  installErrorHandler(app);
  installJsonParser(app);

  await app.register(securityHeaders);
  await app.register(docsPlugin);
  await app.register(dbPlugin, { databaseUrl: config.DATABASE_URL, pool: deps.pool });
  await app.register(temporalPlugin, {
    address: config.TEMPORAL_ADDRESS,
    namespace: config.TEMPORAL_NAMESPACE,
    client: deps.temporal,
  });
  await app.register(rateLimitPlugin, {
    signInFailures: { max: config.RATE_LIMIT_AUTH_FAILURES, windowMs: config.RATE_LIMIT_AUTH_WINDOW },
    replyPosts: { max: config.RATE_LIMIT_REPLY_MAX, windowMs: config.RATE_LIMIT_REPLY_WINDOW },
  });
  await app.register(authPlugin);
  await app.register(healthRoutes);
  await app.register(planRoutes);
  await app.register(unitRoutes);
  await app.register(cycleRoutes, {
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    namespace: config.TEMPORAL_NAMESPACE,
    temporalUiUrl: config.TEMPORAL_UI_URL,
  });
  await app.register(actionRoutes, { updateTimeoutMs: config.REPLY_TIMEOUT_MS });
  await app.register(auditRoutes);
  await app.register(notificationRoutes);
  await app.register(reportRoutes);
  await app.register(replyRoutes, { linkSecret: config.LINK_SECRET, submitTimeoutMs: config.REPLY_TIMEOUT_MS });
  await app.register(dashboardRoutes, { temporalUiUrl: config.TEMPORAL_UI_URL, namespace: config.TEMPORAL_NAMESPACE });
  return app;
}
