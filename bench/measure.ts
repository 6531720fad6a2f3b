import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

/** Small measuring tools shared by the benchmark and the chaos drill: HTTP, concurrency, percentiles, /proc. */

// ─── HTTP ────────────────────────────────────────────────────────────────────────────────────────────

export interface HttpResponse {
  status: number;
  body: string;
}

export interface HttpClient {
  request(
    method: string,
    path: string,
    opts?: { body?: string; headers?: Record<string, string>; timeoutMs?: number },
  ): Promise<HttpResponse>;
  close(): void;
}

/** A keep-alive client on node:http: less client CPU per request than fetch, which matters on 2 cores. */
export function httpClient(baseUrl: string, maxSockets: number): HttpClient {
  const agent = new http.Agent({ keepAlive: true, maxSockets });
  const base = new URL(baseUrl);
  return {
    request(method, path, opts = {}) {
      return new Promise((resolve, reject) => {
        const body = opts.body === undefined ? undefined : Buffer.from(opts.body, 'utf8');
        const req = http.request(
          {
            agent,
            host: base.hostname,
            port: base.port,
            method,
            path,
            headers: { ...(body ? { 'content-length': String(body.length) } : {}), ...opts.headers },
            timeout: opts.timeoutMs ?? 30_000,
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
            res.on('error', reject);
          },
        );
        req.on('timeout', () =>
          req.destroy(new Error(`${method} ${path}: no answer within ${opts.timeoutMs ?? 30_000} ms`)),
        );
        req.on('error', reject);
        req.end(body);
      });
    },
    close() {
      agent.destroy();
    },
  };
}

export const formBody = (fields: Record<string, string>): string => new URLSearchParams(fields).toString();
export const FORM_HEADERS = { 'content-type': 'application/x-www-form-urlencoded' };

const asError = (err: unknown): Error => (err instanceof Error ? err : new Error(JSON.stringify(err)));

// ─── concurrency ─────────────────────────────────────────────────────────────────────────────────────

/** Runs fn over items with at most `concurrency` in flight; the first rejection stops new work and rethrows. */
export async function runPool<T>(
  items: readonly T[],
  concurrency: number,
  fn: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failed: unknown;
  const lane = async () => {
    while (failed === undefined && next < items.length) {
      const i = next++;
      try {
        await fn(items[i] as T, i);
      } catch (err) {
        failed ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, lane));
  if (failed !== undefined) throw asError(failed);
}

/**
 * Open-loop load: request i starts at t0 + i / rate whatever the earlier ones do (at most `maxInFlight`),
 * and its latency counts from that scheduled instant, so a stall shows up instead of hiding (no coordinated
 * omission). Returns the latencies in ms.
 */
export async function runPaced<T>(
  items: readonly T[],
  ratePerSecond: number,
  maxInFlight: number,
  fn: (item: T, index: number) => Promise<void>,
): Promise<{ latencies: number[]; seconds: number; timeline: [number, number][] }> {
  const latencies: number[] = [];
  const timeline: [number, number][] = [];
  const inFlight = new Set<Promise<void>>();
  const t0 = performance.now();
  let failed: unknown;
  for (let i = 0; i < items.length && failed === undefined; i++) {
    const scheduled = t0 + (i * 1000) / ratePerSecond;
    const wait = scheduled - performance.now();
    if (wait > 0) await sleep(wait);
    while (inFlight.size >= maxInFlight) await Promise.race(inFlight);
    const p: Promise<void> = fn(items[i] as T, i)
      .then(
        () => {
          const latency = performance.now() - scheduled;
          latencies.push(latency);
          timeline.push([scheduled - t0, latency]);
        },
        (err: unknown) => {
          failed ??= err;
        },
      )
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
  }
  await Promise.all(inFlight);
  if (failed !== undefined) throw asError(failed);
  return { latencies, seconds: (performance.now() - t0) / 1000, timeline };
}

// ─── statistics ──────────────────────────────────────────────────────────────────────────────────────

export interface Percentiles {
  n: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

export function percentiles(values: readonly number[]): Percentiles {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? 0;
  const round = (v: number) => Math.round(v * 10) / 10;
  return {
    n: sorted.length,
    p50: round(at(0.5)),
    p95: round(at(0.95)),
    p99: round(at(0.99)),
    max: round(sorted[sorted.length - 1] ?? 0),
    mean: round(sorted.reduce((s, v) => s + v, 0) / Math.max(1, sorted.length)),
  };
}

/** Latencies grouped by when their request started: one entry per `bucketMs`, to see stalls. */
export function latencyTimeline(
  timeline: readonly [number, number][],
  bucketMs = 5_000,
): { fromS: number; n: number; p50: number; p99: number; max: number }[] {
  const buckets = new Map<number, number[]>();
  for (const [at, latency] of timeline) {
    const b = Math.floor(at / bucketMs);
    buckets.set(b, [...(buckets.get(b) ?? []), latency]);
  }
  return [...buckets.entries()]
    .sort(([a], [b]) => a - b)
    .map(([b, values]) => {
      const p = percentiles(values);
      return { fromS: (b * bucketMs) / 1000, n: p.n, p50: p.p50, p99: p.p99, max: p.max };
    });
}

export function median(values: readonly number[]): number {
  return percentiles(values).p50;
}

/** Polls fn every `everyMs` until it returns a value, or throws after `timeoutMs` naming `what`. */
export async function until<T>(
  what: string,
  fn: () => Promise<T | undefined>,
  timeoutMs: number,
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}`);
    await sleep(everyMs);
  }
}

// ─── processes ───────────────────────────────────────────────────────────────────────────────────────

let clockTicks: number | undefined;
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
    const n = Number(r.stdout?.trim());
    clockTicks = Number.isFinite(n) && n > 0 ? n : 100;
  }
  return clockTicks;
}

export interface ProcSample {
  /** Resident set size and its peak (VmHWM), MB. */
  rssMb: number;
  peakRssMb: number;
  /** User + system CPU time since the process started, seconds. */
  cpuSeconds: number;
}

/** RSS from /proc/<pid>/status, CPU time from /proc/<pid>/stat; undefined once the process is gone. */
export function procSample(pid: number | undefined): ProcSample | undefined {
  if (pid === undefined) return undefined;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after "pid (comm) ": state is [0], utime [11], stime [12] (proc(5) fields 14 and 15).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11] ?? 0) + Number(fields[12] ?? 0);
    return {
      rssMb: Math.round(kb('VmRSS') / 102.4) / 10,
      peakRssMb: Math.round(kb('VmHWM') / 102.4) / 10,
      cpuSeconds: ticks / ticksPerSecond(),
    };
  } catch {
    return undefined;
  }
}

/**
 * CPU seconds per PostgreSQL backend serving `databaseName` (found by their process titles,
 * "postgres: … <database> 127.0.0.1(…)"), by pid.
 */
export function postgresBackends(databaseName: string): Map<number, number> {
  const backends = new Map<number, number>();
  let entries: string[];
  try {
    entries = readdirSync('/proc').filter((e) => /^\d+$/.test(e));
  } catch {
    return backends;
  }
  for (const pid of entries) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (!cmdline.startsWith('postgres:') || !cmdline.includes(` ${databaseName} `)) continue;
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      backends.set(Number(pid), (Number(fields[11] ?? 0) + Number(fields[12] ?? 0)) / ticksPerSecond());
    } catch {
      // Gone between listing and reading.
    }
  }
  return backends;
}

/**
 * A running total of the CPU the database's backends used: each call adds what the backends seen last time
 * used since then (a backend's first sample counts in full), so backends that come and go with the pools do
 * not make the total jump back.
 */
export function postgresCpuCounter(databaseName: string): () => number {
  let previous = new Map<number, number>();
  let total = 0;
  return () => {
    const now = postgresBackends(databaseName);
    for (const [pid, seconds] of now) total += seconds - (previous.get(pid) ?? 0);
    previous = now;
    return total;
  };
}

/** One-minute load average: the benchmark shares 2 cores with whatever else runs. */
export function loadAverage(): number {
  try {
    return Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
  } catch {
    return Number.NaN;
  }
}

/**
 * The command line of a script that reads its environment (`npm run bench`, `npm run chaos`): `--help` prints the
 * usage and exits 0; the `flags` it accepts (e.g. `--quick`) are returned; any other argument exits 2 saying where
 * the settings go.
 */
export function scriptArguments(
  name: string,
  usage: string,
  variables: string,
  flags: readonly string[] = [],
): Set<string> {
  const args = process.argv.slice(2);
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(usage);
    process.exit(0);
  }
  const unknown = args.filter((a) => !flags.includes(a));
  if (unknown.length > 0) {
    const takes = flags.length > 0 ? `takes only ${flags.join(', ')}` : 'takes no arguments';
    process.stderr.write(
      `${name}: ${flags.length > 0 ? '不接受此参数' : '不接受参数'} / ${takes} (got ${unknown.join(' ')}); it reads ${variables} variables: npm run ${name} -- --help\n`,
    );
    process.exit(2);
  }
  return new Set(args);
}
