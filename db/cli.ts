import { z } from 'zod';
import { ConfigError } from '../config';
import { runMain } from '../config/run-main';
import { migrate } from './migrate';

/** `npm run migrate`: apply pending migrations to DATABASE_URL (the processes also do this at start). */
async function main(): Promise<void> {
  const url = z.string().min(1).safeParse(process.env.DATABASE_URL);
  if (!url.success) throw new ConfigError('DATABASE_URL', 'is required');
  const { applied } = await migrate(url.data, (m) => console.log(m));
  if (applied.length === 0) console.log('migrations: nothing to apply');
}

runMain(main, () => ({ databaseUrl: process.env.DATABASE_URL }));
