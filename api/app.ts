import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Pool } from 'pg';
import type { Client } from '@temporalio/client';
import type { ApiConfig } from '../config';
import { frameworkErrors, installErrorHandler } from './errors';
import { installJsonParser } from './input-limits';
import dbPlugin from './plugins/db';
import temporalPlugin from './plugins/temporal';
import docsPlugin from './plugins/docs';
import authPlugin from './plugins/auth';
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

/** Builds the Fastify app. It never listens: api/main.ts does, tests use app.inject. */
export async function buildApp(
  config: ApiConfig,
  deps: AppDeps = {},
  fastifyOptions: FastifyServerOptions = {},
): Promise<FastifyInstance> {
  const app = Fastify({
    logger: { level: config.LOG_LEVEL },
    bodyLimit: 2 * 1024 * 1024,
    // Reply-link tokens (/r/<token>) are longer than Fastify's default 100-character parameter limit.
    routerOptions: { maxParamLength: 512 },
    // A URL with broken %-encoding is refused before routing; answer it in the error shape too.
    frameworkErrors,
    ...fastifyOptions,
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  installErrorHandler(app);
  installJsonParser(app);

  await app.register(docsPlugin);
  await app.register(dbPlugin, { databaseUrl: config.DATABASE_URL, pool: deps.pool });
  await app.register(temporalPlugin, {
    address: config.TEMPORAL_ADDRESS,
    namespace: config.TEMPORAL_NAMESPACE,
    client: deps.temporal,
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
  await app.register(actionRoutes);
  await app.register(auditRoutes);
  await app.register(notificationRoutes);
  await app.register(reportRoutes);
  await app.register(replyRoutes, { linkSecret: config.LINK_SECRET });
  await app.register(dashboardRoutes, { temporalUiUrl: config.TEMPORAL_UI_URL, namespace: config.TEMPORAL_NAMESPACE });
  return app;
}
