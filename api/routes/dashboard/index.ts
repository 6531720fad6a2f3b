import type { FastifyInstance } from 'fastify';
import formbody from '@fastify/formbody';
import type { TemporalUi } from '../../views/temporal-ui';
import dashboardSignIn from './auth';
import dashboardOverview from './overview';
import dashboardCyclePage from './cycle-page';

/**
 * The office dashboard: server-rendered zh-CN pages behind the same API tokens, kept in an HttpOnly
 * cookie after a login form (auth.ts). The overview lists the cycles (overview.ts); a cycle's grid shows every work
 * point × unit in red / yellow / green, recomputed from the projected facts as of now or any past date (?asOf=,
 * cycle-page.ts, cycle-grid.ts).
 */
export default async function dashboardRoutes(app: FastifyInstance, opts: TemporalUi): Promise<void> {
  await app.register(formbody);
  await dashboardSignIn(app);
  await dashboardOverview(app);
  await dashboardCyclePage(app, { temporalUiUrl: opts.temporalUiUrl, namespace: opts.namespace });
}
