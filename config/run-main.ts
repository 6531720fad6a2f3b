import { ConfigError } from './index';

export interface StartupContext {
  databaseUrl?: string;
  temporalAddress?: string;
  portVariable?: string;
}

/**
 * Turn a start-up failure into one line a person can act on: which variable, which server, what to do.
 * Everything else (a real bug) keeps its stack on stderr.
 */
export function describeStartupError(err: unknown, context: StartupContext = {}): string | undefined {
  if (err instanceof ConfigError) return err.message;
  if (!(err instanceof Error)) return undefined;
  const code = (err as { code?: string }).code;
  const where = (url?: string) => {
    if (!url) return '';
    try {
      const u = new URL(url);
      return ` at ${u.hostname}:${u.port || '5432'}${u.pathname}`;
    } catch {
      return '';
    }
  };
  // Errors that already carry a complete, actionable message.
  if (['BinaryUnavailableError', 'TemporalUnreachableError', 'StartupError'].includes(err.name)) return err.message;
  if (code === 'EADDRINUSE') {
    const port = (err as { port?: number }).port;
    return `port ${port ?? ''} is already in use: stop what uses it, or set ${context.portVariable ?? 'PORT'} to a free port.`;
  }
  if (err.name === 'PortBusyError') return err.message;
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'ETIMEDOUT') {
    if (
      context.databaseUrl &&
      (err.message.includes('5432') || (err as { port?: number }).port !== undefined || err.message.includes('connect'))
    ) {
      return `PostgreSQL is not reachable${where(context.databaseUrl)} (${code}): check DATABASE_URL and that the server runs.`;
    }
  }
  if (code === '3D000')
    return `PostgreSQL database does not exist${where(context.databaseUrl)}: create it or fix DATABASE_URL.`;
  if (code === '28P01' || code === '28000')
    return `PostgreSQL refused the login${where(context.databaseUrl)} (${err.message}): fix the user or password in DATABASE_URL.`;
  if (err.name === 'TransportError' || /Failed to connect|tcp connect error|transport error/i.test(err.message)) {
    return `Temporal is not reachable at ${context.temporalAddress ?? 'TEMPORAL_ADDRESS'}: start it (npm start does) or fix TEMPORAL_ADDRESS.`;
  }
  return undefined;
}

/** Entry points: `runMain(main)`; a known failure prints one line and exits 1, no stack trace. */
export function runMain(main: () => Promise<void>, context: () => StartupContext = () => ({})): void {
  main().catch((err: unknown) => {
    const line = describeStartupError(err, context());
    if (line) {
      process.stderr.write(`duban: ${line}\n`);
    } else {
      process.stderr.write(
        `duban: unexpected failure: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
      );
    }
    process.exit(1);
  });
}
