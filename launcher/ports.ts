import { createServer } from 'node:net';

/** Named so that config/run-main.ts prints the message as one line instead of a stack. */
export class PortBusyError extends Error {
  override name = 'PortBusyError';
}

export interface PortClaim {
  /** The environment variable that sets this port, named in the message. */
  variable: string;
  port: number;
  host: string;
}

/** Resolves to the bind error's code, or undefined when the port could be bound. */
function tryBind(port: number, host: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'EUNKNOWN'));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(undefined)));
  });
}

async function suggestFree(claim: PortClaim, taken: Set<number>): Promise<number | undefined> {
  for (let port = claim.port + 1; port <= Math.min(claim.port + 50, 65535); port++) {
    if (!taken.has(port) && (await tryBind(port, claim.host)) === undefined) return port;
  }
  return undefined;
}

/**
 * Check every port the launcher will bind before it starts anything, so a clash costs a second, not a
 * half-started stack. (A port can still be taken between this check and the bind; the child then fails
 * and the launcher stops everything.)
 */
export async function assertPortsFree(claims: PortClaim[]): Promise<void> {
  const seen = new Map<number, PortClaim>();
  for (const claim of claims) {
    const other = seen.get(claim.port);
    if (other) {
      throw new PortBusyError(
        `${other.variable} and ${claim.variable} are both ${claim.port}: set one of them to another port`,
      );
    }
    seen.set(claim.port, claim);
  }
  const taken = new Set(seen.keys());
  for (const claim of claims) {
    const code = await tryBind(claim.port, claim.host);
    if (code === undefined) continue;
    const alternative = await suggestFree(claim, taken);
    const fix = alternative ? `set ${claim.variable}=${alternative}` : `set ${claim.variable} to a free port`;
    if (code === 'EADDRINUSE') {
      throw new PortBusyError(`port ${claim.port} is already in use: stop what uses it or ${fix}`);
    }
    throw new PortBusyError(`port ${claim.port} on ${claim.host} cannot be bound (${code}): ${fix}`);
  }
}

/** A port nobody listens on right now (bound to 0 and released; a tiny race remains, as for any test). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ port: 0, host: '127.0.0.1' }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
