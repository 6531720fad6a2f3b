import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { TemporalUi } from '../../views/temporal-ui';
import startCycle from './start';
import cancelDrill from './cancel-drill';
import cycleOverview from './overview';
import workPointDetail from './work-point';

/**
 * The cycle API (/api/cycles…): start a cycle, cancel a drill, read the cycles and one work point. Office actions on
 * a work point are api/routes/actions/; the annual report is api/routes/reports.ts.
 */
const cycles: FastifyPluginAsyncZod<TemporalUi & { taskQueue: string }> = async (app, opts) => {
  const ui: TemporalUi = { temporalUiUrl: opts.temporalUiUrl, namespace: opts.namespace };
  await app.register(startCycle, { ...ui, taskQueue: opts.taskQueue });
  await app.register(cancelDrill);
  await app.register(cycleOverview, ui);
  await app.register(workPointDetail, ui);
};

export default cycles;
