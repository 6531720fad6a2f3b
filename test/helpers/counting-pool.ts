import type { Pool, PoolClient } from 'pg';

/** A query as the counting pool saw it: its SQL text, whitespace folded. */
export type SeenQuery = string;

export interface CountingPool {
  /** The real pool behind a proxy that records every query sent through it (pool.query and checked-out clients). */
  pool: Pool;
  /** What was sent since the last `take()`, in order; `take()` empties the list. */
  take(): SeenQuery[];
}

const textOf = (arg: unknown): SeenQuery => {
  const text = typeof arg === 'string' ? arg : (arg as { text?: unknown } | null)?.text;
  return typeof text === 'string' ? text.replace(/\s+/g, ' ').trim() : String(arg);
};

/**
 * Wraps a real pool so a test can count the queries a request makes. Nothing is changed: every call goes to the real
 * pool (or client) with the same arguments; only the SQL text is noted first.
 */
export function countingPool(real: Pool): CountingPool {
  let seen: SeenQuery[] = [];
  const recording = <T extends Pool | PoolClient>(target: T): T =>
    new Proxy(target, {
      get(obj, prop) {
        const value: unknown = Reflect.get(obj, prop, obj);
        if (prop === 'query') {
          // pg's query() has a dozen overloads; the proxy forwards whatever it is given, unchanged.
          const query = value as (...args: unknown[]) => unknown;
          return (...args: unknown[]) => {
            seen.push(textOf(args[0]));
            return query.apply(obj, args);
          };
        }
        if (prop === 'connect' && obj === real) {
          return async () => recording(await real.connect());
        }
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(obj) : value;
      },
    });
  return {
    pool: recording(real),
    take() {
      const out = seen;
      seen = [];
      return out;
    },
  };
}
