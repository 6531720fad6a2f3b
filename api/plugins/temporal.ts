import fp from 'fastify-plugin';
import { Client, Connection } from '@temporalio/client';

declare module 'fastify' {
  interface FastifyInstance {
    temporal: Client;
  }
}

export interface TemporalPluginOptions {
  address: string;
  namespace: string;
  /** A client owned by the caller (tests); its connection is not closed with the app. */
  client?: Client;
}

export default fp<TemporalPluginOptions>(
  async (app, opts) => {
    if (opts.client) {
      app.decorate('temporal', opts.client);
      return;
    }
    // Lazy: the API starts (and /readyz reports Temporal down) even while Temporal is briefly away;
    // the start-up check in api/main.ts decides whether an unreachable Temporal is fatal.
    const connection = Connection.lazy({ address: opts.address });
    app.decorate('temporal', new Client({ connection, namespace: opts.namespace }));
    app.addHook('onClose', async () => connection.close());
  },
  { name: 'temporal' },
);
