import { Connection } from '@temporalio/client';
import { loadApiConfig, type ApiConfig } from '../config';
import { runMain } from '../config/run-main';
import { migrate } from '../db/migrate';
import { buildApp } from './app';

let config: ApiConfig | undefined;

async function main(): Promise<void> {
  config = loadApiConfig(process.env);
  await migrate(config.DATABASE_URL);
  // Fail fast with one clear line when Temporal is not there at start; later outages show in /readyz.
  const probe = await Connection.connect({ address: config.TEMPORAL_ADDRESS, connectTimeout: '5s' });
  await probe.close();

  const app = await buildApp(config);
  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    app.log.info({ signal }, 'shutting down: finishing in-flight requests');
    const timer = setTimeout(() => {
      app.log.error('shutdown timed out; exiting');
      process.exit(1);
    }, config?.SHUTDOWN_TIMEOUT_MS ?? 10_000);
    timer.unref();
    app.close().then(
      () => process.exit(0),
      (err: unknown) => {
        app.log.error({ err }, 'error while closing');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));

  await app.listen({ host: config.HOST, port: config.PORT });
}

runMain(main, () => ({
  databaseUrl: config?.DATABASE_URL ?? process.env.DATABASE_URL,
  temporalAddress: config?.TEMPORAL_ADDRESS ?? process.env.TEMPORAL_ADDRESS,
}));
