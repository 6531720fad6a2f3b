import fp from 'fastify-plugin';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';
import { cspHeader, DOCS_CSP } from './security-headers';

/** OpenAPI document at /docs/json, generated from the routes' zod schemas; the docs UI at /docs. */
export default fp(
  async (app) => {
    await app.register(swagger, {
      openapi: {
        info: {
          title: 'duban 督办 API',
          description:
            'Annual work-plan supervision on Temporal: plans, unit directory, cycles, reports. ' +
            'Errors always have the shape { error: { code, message, details? } }.',
          version: '0.1.0',
        },
        tags: [
          { name: 'health', description: 'liveness and readiness' },
          { name: 'plans', description: '工作要点 — plans and work points' },
          { name: 'units', description: '单位目录 — unit directory and groups' },
          { name: 'cycles', description: '年度周期 — annual cycles' },
          { name: 'actions', description: '督办操作 — extend, waive, reassign, return, remind, rate (admin; audited)' },
          { name: 'audit', description: '操作记录 — who did what, when and why' },
          { name: 'notifications', description: '通知 — the outbox: what was sent to whom' },
        ],
        components: {
          securitySchemes: {
            bearerAuth: {
              type: 'http',
              scheme: 'bearer',
              description: 'API 令牌（npx duban token create 创建） / API token from npx duban token create',
            },
          },
        },
        security: [{ bearerAuth: [] }],
      },
      // Only /api needs a token (api/plugins/auth.ts); the other routes say so, so the document stays true.
      transform: (args) => {
        const out = jsonSchemaTransform(args);
        return args.url === '/api' || args.url.startsWith('/api/')
          ? out
          : { ...out, schema: { ...out.schema, security: [] } };
      },
      transformObject: jsonSchemaTransformObject,
    });
    await app.register(swaggerUi, {
      routePrefix: '/docs',
      uiConfig: { persistAuthorization: true },
      // Replaces the pages' policy (which allows no script at all) on the docs routes only.
      staticCSP: cspHeader(DOCS_CSP),
    });
  },
  { name: 'docs' },
);
