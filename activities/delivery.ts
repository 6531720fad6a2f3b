import { log } from '@temporalio/activity';
import nodemailer from 'nodemailer';
import type Mail from 'nodemailer/lib/mailer';
import type { WorkerConfig } from '../config';
import { chinaCalendar, type Calendar } from '../domain/calendar';
import { DEFAULT_DELIVERY_POLICY, parseKindList, parseQuietHours, type DeliveryPolicy } from '../domain/delivery-time';

export { maskAddress, parseWebhookAddress, PermanentDeliveryError } from '../services/webhook-address';

/**
 * Delivery of the outbox (docs/notifications.md): this module holds its options and configuration, what the
 * worker passes in; `delivery-pass.ts` the dispatcher's pass, `delivery-channels.ts` the sending of one message
 * and `db/outbox-repo.ts` the queue's statements. `notify` writes rows with the instant they may go out
 * (`deliver_after`); the dispatcher workflow calls `deliverDue` every minute, which
 *  1. claims a contact's due rows (row locks that skip rows another pass holds, then status 'sending' with a claim token),
 *     so two workers never send the same row;
 *  2. sends bypassing notices one by one and the contact's digest notices as ONE message;
 *  3. records the outcome on every row: attempts, last_error, delivered_at; a failure goes back to the
 *     queue with exponential back-off until DELIVERY_MAX_ATTEMPTS, then stays 'failed'.
 *
 * Exactly-once delivery over SMTP or HTTP does not exist. duban chooses at most once: a row left in
 * 'sending' by a worker that died mid-send is settled as failed ("outcome unknown") instead of being sent
 * again, because a unit receiving the same 催办 twice is what the office asked never to happen. Such
 * rows are rare, visible in GET /api/notifications?status=failed and carry an explicit last_error.
 */

/** What email delivery needs of nodemailer; tests pass a transport pointed at their own SMTP server. */
export interface Mailer {
  sendMail(message: Mail.Options): Promise<unknown>;
}

export type FetchLike = (url: string, init: RequestInit) => Promise<Response>;

export interface DeliveryLogger {
  info(message: string, meta?: Record<string, unknown>): void;
  warn(message: string, meta?: Record<string, unknown>): void;
}

/** Temporal's activity logger (carries workflow and activity IDs); only valid inside an activity. */
export const activityLogger: DeliveryLogger = {
  info(message, meta) {
    log.info(message, meta);
  },
  warn(message, meta) {
    log.warn(message, meta);
  },
};

export interface DeliveryOptions {
  /** Undefined when SMTP_HOST is unset: email rows then fail with "SMTP_HOST not configured". */
  mailer?: Mailer;
  mailFrom?: string;
  fetch?: FetchLike;
  policy?: DeliveryPolicy;
  calendar?: Calendar;
  /** After this many failed attempts a row stays 'failed' (default 10: about five hours of back-off). */
  maxAttempts?: number;
  logger?: DeliveryLogger;
  /** Contacts handled per deliverDue call; the rest are reported as `more`. */
  contactsPerPass?: number;
  /** A 'sending' claim older than this (real time) belongs to a worker that died mid-send. */
  claimLeaseMs?: number;
  /** Timeout of one webhook request (SMTP has its own, set on the transport). */
  requestTimeoutMs?: number;
  /**
   * True once the worker has begun to shut down. A pass then stops before its next send and leaves the rest
   * queued for the next worker: a pass of thousands of notices to a slow webhook would otherwise hold the
   * worker's drain for minutes, until whoever stops it (npm start, systemd, Kubernetes) kills it mid-send.
   */
  stopping?: () => boolean;
}

export type ResolvedDelivery = Required<Omit<DeliveryOptions, 'mailer'>> & Pick<DeliveryOptions, 'mailer'>;

export function resolveDelivery(options: DeliveryOptions = {}): ResolvedDelivery {
  return {
    mailer: options.mailer,
    mailFrom: options.mailFrom ?? 'duban <noreply@localhost>',
    fetch: options.fetch ?? ((url, init) => fetch(url, init)),
    policy: options.policy ?? DEFAULT_DELIVERY_POLICY,
    calendar: options.calendar ?? chinaCalendar,
    maxAttempts: options.maxAttempts ?? 10,
    logger: options.logger ?? activityLogger,
    contactsPerPass: options.contactsPerPass ?? 50,
    claimLeaseMs: options.claimLeaseMs ?? 10 * 60_000,
    requestTimeoutMs: options.requestTimeoutMs ?? 15_000,
    stopping: options.stopping ?? (() => false),
  };
}

// ─── configuration ───────────────────────────────────────────────────────────────────────────────

export type DeliveryConfig = Partial<
  Pick<
    WorkerConfig,
    | 'SMTP_HOST'
    | 'SMTP_PORT'
    | 'SMTP_SECURE'
    | 'SMTP_USER'
    | 'SMTP_PASS'
    | 'SMTP_FROM'
    | 'DIGEST_ENABLED'
    | 'DIGEST_TIME'
    | 'DIGEST_BYPASS_KINDS'
    | 'QUIET_HOURS'
    | 'DELIVERY_MAX_ATTEMPTS'
  >
>;

export interface SmtpSettings {
  host: string;
  port?: number;
  secure?: boolean;
  user?: string;
  pass?: string;
}

export function createMailer(smtp: SmtpSettings): Mailer {
  const secure = smtp.secure ?? false;
  return nodemailer.createTransport({
    host: smtp.host,
    port: smtp.port ?? (secure ? 465 : 587),
    secure,
    ...(smtp.user ? { auth: { user: smtp.user, pass: smtp.pass ?? '' } } : {}),
    // Bounded well inside the claim lease, so a hanging server fails the attempt instead of the claim.
    connectionTimeout: 15_000,
    greetingTimeout: 15_000,
    socketTimeout: 30_000,
  });
}

/** The worker's delivery dependencies from its configuration: one SMTP transport per process. */
export function deliveryOptionsFromConfig(config: DeliveryConfig): DeliveryOptions {
  return {
    ...(config.SMTP_HOST
      ? {
          mailer: createMailer({
            host: config.SMTP_HOST,
            ...(config.SMTP_PORT !== undefined ? { port: config.SMTP_PORT } : {}),
            ...(config.SMTP_SECURE !== undefined ? { secure: config.SMTP_SECURE } : {}),
            ...(config.SMTP_USER !== undefined ? { user: config.SMTP_USER } : {}),
            ...(config.SMTP_PASS !== undefined ? { pass: config.SMTP_PASS } : {}),
          }),
        }
      : {}),
    ...(config.SMTP_FROM !== undefined ? { mailFrom: config.SMTP_FROM } : {}),
    ...(config.DELIVERY_MAX_ATTEMPTS !== undefined ? { maxAttempts: config.DELIVERY_MAX_ATTEMPTS } : {}),
    policy: {
      digest: config.DIGEST_ENABLED ?? DEFAULT_DELIVERY_POLICY.digest,
      digestTime: config.DIGEST_TIME ?? DEFAULT_DELIVERY_POLICY.digestTime,
      bypassKinds:
        config.DIGEST_BYPASS_KINDS !== undefined
          ? parseKindList(config.DIGEST_BYPASS_KINDS)
          : DEFAULT_DELIVERY_POLICY.bypassKinds,
      quietHours:
        config.QUIET_HOURS !== undefined ? parseQuietHours(config.QUIET_HOURS) : DEFAULT_DELIVERY_POLICY.quietHours,
    },
  };
}

// ─── outcomes ────────────────────────────────────────────────────────────────────────────────────

export const SMTP_NOT_CONFIGURED = 'SMTP_HOST not configured';
export const OUTCOME_UNKNOWN =
  '发送结果未知：发送过程中工作进程中断；为避免重复发送，系统不再自动重发，请核实后人工处理 / ' +
  'outcome unknown: the worker stopped while sending; not resent automatically so that no unit gets it twice';
