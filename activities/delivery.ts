import { createHmac, randomUUID } from 'node:crypto';
import { asyncLocalStorage, CancelledFailure, heartbeat, log } from '@temporalio/activity';
import nodemailer from 'nodemailer';
import type Mail from 'nodemailer/lib/mailer';
import type { Pool } from 'pg';
import type { WorkerConfig } from '../config';
import { inTransaction } from '../db/pool';
import { chinaCalendar, type Calendar } from '../domain/calendar';
import {
  DEFAULT_DELIVERY_POLICY,
  isQuiet,
  parseKindList,
  parseQuietHours,
  retryDelayMs,
  type DeliveryPolicy,
} from '../domain/delivery-time';
import { toShanghaiIso } from '../domain/schedule';
import { renderDigest, renderSingle, type DigestItem, type MessageText } from '../services/digest-template';
import { parseWebhookAddress, PermanentDeliveryError, type WebhookFormat } from '../services/webhook-address';

export { maskAddress, parseWebhookAddress, PermanentDeliveryError } from '../services/webhook-address';

/**
 * Delivery of the outbox (docs/notifications.md). `notify` writes rows with the instant they may go out
 * (`deliver_after`); the dispatcher workflow calls `deliverDue` every minute, which
 *  1. claims a contact's due rows (SELECT … FOR UPDATE SKIP LOCKED, then status 'sending' with a claim token),
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

/**
 * Heartbeat of a delivery pass (the dispatcher sets a heartbeat timeout), so a pass whose worker died is retried
 * within a minute. Called directly (tests), outside an activity, there is no one to tell.
 */
function alive(): void {
  if (asyncLocalStorage.getStore()) heartbeat();
}

/** The pass's activity was cancelled (by its workflow, a timeout, or the worker's shutdown grace running out). */
function cancelled(): boolean {
  return asyncLocalStorage.getStore()?.cancellationSignal.aborted === true;
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

// ─── errors ──────────────────────────────────────────────────────────────────────────────────────

/** Robot text limits: WeCom documents 2048 bytes; DingTalk documents none for text, so stay well short. */
const CHAT_LIMIT_BYTES: Record<Exclude<WebhookFormat, 'duban'>, number> = { wecom: 2048, dingtalk: 15_000 };

export const SMTP_NOT_CONFIGURED = 'SMTP_HOST not configured';
export const OUTCOME_UNKNOWN =
  '发送结果未知：发送过程中工作进程中断；为避免重复发送，系统不再自动重发，请核实后人工处理 / ' +
  'outcome unknown: the worker stopped while sending; not resent automatically so that no unit gets it twice';

function errorText(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as Error & { code?: unknown; responseCode?: unknown }).code;
    const text = typeof code === 'string' && !err.message.includes(code) ? `${code}: ${err.message}` : err.message;
    return text.slice(0, 1000);
  }
  return String(err).slice(0, 1000);
}

function isPermanent(err: unknown): boolean {
  if (err instanceof PermanentDeliveryError) return true;
  // SMTP 5xx replies (no such mailbox, relaying denied) are permanent by RFC 5321; 4xx are worth retrying.
  const responseCode = (err as { responseCode?: unknown } | null)?.responseCode;
  return typeof responseCode === 'number' && responseCode >= 500 && responseCode < 600;
}

// ─── delivery ────────────────────────────────────────────────────────────────────────────────────

export interface DeliverDueInput {
  /** The dispatcher's clock (workflow time): which rows are due, and the delivered_at it records. */
  now: number;
}

export interface DeliverDueResult {
  /** True when `now` fell in quiet hours and nothing was sent. */
  quiet: boolean;
  /** Messages sent (a digest counts once) and notices they carried. */
  messages: number;
  notices: number;
  /** Messages whose attempt failed: back in the queue, or failed for good. */
  retrying: number;
  failed: number;
  /** Rows settled as "outcome unknown" (claimed by a worker that died mid-send). */
  unknown: number;
  /** More due contacts than one pass handles: call again. */
  more: boolean;
}

interface ClaimedRow {
  id: string;
  key: string;
  kind: string;
  cycle_year: number;
  work_point: number | null;
  period: string | null;
  subject: string;
  body: string;
  link: string | null;
  due_at: Date | null;
  scheduled_for: Date;
  digest: boolean;
  attempts: number;
}

interface Contact {
  unit_id: string;
  unit_name: string | null;
  channel: string;
  address: string;
}

interface Message {
  contact: Contact;
  rows: ClaimedRow[];
  token: string;
  digestId?: string;
  /** Stable per attempt: Message-ID of the mail, Idempotency-Key of the webhook. */
  deliveryId: string;
  text: MessageText;
}

const item = (r: ClaimedRow): DigestItem => ({
  subject: r.subject,
  body: r.body,
  link: r.link,
  dueAt: r.due_at ? r.due_at.getTime() : null,
});

/** Most urgent first: due date (none last), then the order the notices were written. */
function byUrgency(a: ClaimedRow, b: ClaimedRow): number {
  const da = a.due_at?.getTime() ?? Number.POSITIVE_INFINITY;
  const db = b.due_at?.getTime() ?? Number.POSITIVE_INFINITY;
  return da !== db ? da - db : Number(a.id) - Number(b.id);
}

export function createDeliveryActivities(pool: Pool, d: ResolvedDelivery) {
  /** Rows that may be attempted at $1: pending, past deliver_after, past their back-off. */
  const due = (t: string, quiet: boolean) =>
    `${t}.status = 'pending' AND ${t}.deliver_after <= $1 AND (${t}.next_attempt_at IS NULL OR ${t}.next_attempt_at <= $1)` +
    // In quiet hours only a drill's notices go out: a rehearsal is watched while it runs.
    (quiet ? ` AND ${t}.cycle_year IN (SELECT year FROM cycles WHERE options ->> 'drill' = 'true')` : '');

  /** Claims settled by nobody: their worker died between claim and outcome. Real time, not workflow time. */
  async function settleStaleClaims(): Promise<number> {
    const { rows } = await pool.query<{ id: string; digest_id: string | null }>(
      `UPDATE outbox SET status = 'failed', attempts = attempts + 1, last_error = $1, claim_token = NULL
       WHERE status = 'sending' AND claimed_at < now() - make_interval(secs => $2)
       RETURNING id::text, digest_id::text`,
      [OUTCOME_UNKNOWN, d.claimLeaseMs / 1000],
    );
    const digestIds = [...new Set(rows.flatMap((r) => (r.digest_id ? [r.digest_id] : [])))];
    if (digestIds.length > 0) {
      await pool.query(
        `UPDATE digests SET status = 'failed', last_error = $1 WHERE id = ANY($2::bigint[]) AND status = 'sending'`,
        [OUTCOME_UNKNOWN, digestIds],
      );
    }
    if (rows.length > 0) {
      d.logger.warn(
        `${rows.length} notice(s) left in 'sending' by a stopped worker were marked failed (outcome unknown)`,
        {
          ids: rows.map((r) => r.id),
        },
      );
    }
    return rows.length;
  }

  /**
   * Claims every due row of one contact in one transaction. SKIP LOCKED lets a concurrent pass skip rows
   * this one holds instead of waiting and then sending them again; the status change to 'sending' keeps
   * them out of every later pass once the transaction commits.
   */
  async function claim(contact: Contact, now: number, quiet: boolean): Promise<Message[]> {
    return inTransaction(pool, async (client) => {
      const { rows } = await client.query<ClaimedRow>(
        `SELECT id::text, idempotency_key AS key, kind, cycle_year, work_point, period, subject, body, link, due_at,
                scheduled_for, digest, attempts
         FROM outbox o
         WHERE ${due('o', quiet)} AND unit_id = $2 AND channel = $3 AND address = $4
         ORDER BY id
         FOR UPDATE SKIP LOCKED`,
        [new Date(now), contact.unit_id, contact.channel, contact.address],
      );
      const digestRows = rows.filter((r) => r.digest).sort(byUrgency);
      const groups = [...rows.filter((r) => !r.digest).map((r) => [r]), ...(digestRows.length > 0 ? [digestRows] : [])];
      const unitName = contact.unit_name ?? contact.unit_id;
      const messages: Message[] = [];
      for (const group of groups) {
        const text = group.length > 1 ? renderDigest(unitName, group.map(item), now) : renderSingle(item(group[0]!));
        let digestId: string | undefined;
        if (group.length > 1) {
          const res = await client.query<{ id: string }>(
            `INSERT INTO digests (unit_id, channel, address, subject, notices) VALUES ($1, $2, $3, $4, $5) RETURNING id::text`,
            [contact.unit_id, contact.channel, contact.address, text.subject, group.length],
          );
          digestId = res.rows[0]?.id;
        }
        const token = randomUUID();
        await client.query(
          `UPDATE outbox SET status = 'sending', claimed_at = now(), claim_token = $1, digest_id = $2 WHERE id = ANY($3::bigint[])`,
          [token, digestId ?? null, group.map((r) => r.id)],
        );
        messages.push({
          contact,
          rows: group,
          token,
          ...(digestId !== undefined ? { digestId } : {}),
          deliveryId: digestId !== undefined ? `digest-${digestId}` : `outbox-${group[0]!.id}`,
          text,
        });
      }
      return messages;
    });
  }

  async function sendEmail(m: Message): Promise<void> {
    if (!d.mailer) throw new Error(SMTP_NOT_CONFIGURED);
    const domain = /@([^>\s]+)>?\s*$/.exec(d.mailFrom)?.[1] ?? 'duban.local';
    await d.mailer.sendMail({
      from: d.mailFrom,
      to: m.contact.address,
      subject: m.text.subject,
      text: m.text.text,
      messageId: `<${m.deliveryId}.${m.token}@${domain}>`,
      headers: { 'X-Duban-Delivery': m.deliveryId },
    });
  }

  function dubanPayload(m: Message): unknown {
    return {
      type: 'duban.notices',
      deliveryId: m.deliveryId,
      digest: m.rows.length > 1,
      unit: { id: m.contact.unit_id, name: m.contact.unit_name ?? m.contact.unit_id },
      subject: m.text.subject,
      text: m.text.text,
      notices: m.rows.map((r) => ({
        id: Number(r.id),
        key: r.key,
        kind: r.kind,
        cycleYear: r.cycle_year,
        workPoint: r.work_point,
        period: r.period,
        subject: r.subject,
        body: r.body,
        link: r.link,
        dueAt: r.due_at ? toShanghaiIso(r.due_at.getTime()) : null,
        scheduledFor: toShanghaiIso(r.scheduled_for.getTime()),
      })),
    };
  }

  async function sendWebhook(m: Message): Promise<void> {
    const target = parseWebhookAddress(m.contact.address);
    const url = new URL(target.url);
    if (target.signSecret) {
      // DingTalk 加签: HMAC-SHA256 over "timestamp\nsecret", base64; checked against real time (±1 h).
      const timestamp = String(Date.now());
      const sign = createHmac('sha256', target.signSecret)
        .update(`${timestamp}\n${target.signSecret}`)
        .digest('base64');
      url.searchParams.set('timestamp', timestamp);
      url.searchParams.set('sign', sign);
    }
    const body =
      target.format === 'duban'
        ? dubanPayload(m)
        : { msgtype: 'text', text: { content: m.text.chat(CHAT_LIMIT_BYTES[target.format]) } };
    const res = await d.fetch(url.toString(), {
      method: 'POST',
      headers: {
        'content-type': 'application/json; charset=utf-8',
        'idempotency-key': m.deliveryId,
        'user-agent': 'duban-dispatcher',
      },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(d.requestTimeoutMs),
    });
    const text = await res.text();
    // Never echo the URL: robot URLs carry their credential.
    if (!res.ok) {
      const detail = `webhook answered HTTP ${res.status}: ${text.slice(0, 200)}`;
      throw res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429
        ? new PermanentDeliveryError(detail)
        : new Error(detail);
    }
    if (target.format !== 'duban') {
      // Both robots answer 200 with {"errcode":0,"errmsg":"ok"}; anything else is a refusal (rate limit, bad key, keyword).
      let reply: { errcode?: number; errmsg?: string } | undefined;
      try {
        reply = JSON.parse(text) as { errcode?: number; errmsg?: string };
      } catch {
        throw new Error(`${target.format} robot answered non-JSON: ${text.slice(0, 200)}`);
      }
      if (reply.errcode !== 0) {
        throw new Error(`${target.format} robot refused: errcode ${String(reply.errcode)} ${reply.errmsg ?? ''}`);
      }
    }
  }

  async function send(m: Message): Promise<void> {
    switch (m.contact.channel) {
      case 'email':
        return sendEmail(m);
      case 'webhook':
        return sendWebhook(m);
      case 'log':
        d.logger.info(`notice → ${m.contact.unit_name ?? m.contact.unit_id} [log]: ${m.text.subject}`, {
          deliveryId: m.deliveryId,
          unitId: m.contact.unit_id,
          address: m.contact.address,
          notices: m.rows.length,
          text: m.text.text,
        });
        return;
      default:
        throw new PermanentDeliveryError(`unknown channel "${m.contact.channel}"`);
    }
  }

  async function markSent(m: Message, now: number): Promise<void> {
    await pool.query(
      `UPDATE outbox SET status = 'sent', attempts = attempts + 1, delivered_at = $1, claim_token = NULL
       WHERE claim_token = $2 AND status = 'sending'`,
      [new Date(now), m.token],
    );
    if (m.digestId) {
      await pool.query(`UPDATE digests SET status = 'sent', delivered_at = $1 WHERE id = $2`, [
        new Date(now),
        m.digestId,
      ]);
    }
  }

  /** Returns true when the rows failed for good, false when they went back to the queue. */
  async function markFailed(m: Message, now: number, err: unknown): Promise<boolean> {
    const permanent = isPermanent(err);
    const message = errorText(err);
    const { rows } = await pool.query<{ status: string }>(
      `UPDATE outbox o SET attempts = o.attempts + 1, last_error = $1, claim_token = NULL, digest_id = NULL,
         status = CASE WHEN $2 OR o.attempts + 1 >= $3 THEN 'failed' ELSE 'pending' END,
         next_attempt_at = v.next_at
       FROM unnest($4::bigint[], $5::timestamptz[]) AS v(id, next_at)
       WHERE o.id = v.id AND o.claim_token = $6 AND o.status = 'sending'
       RETURNING o.status`,
      [
        message,
        permanent,
        d.maxAttempts,
        m.rows.map((r) => r.id),
        m.rows.map((r) => new Date(now + retryDelayMs(r.attempts + 1))),
        m.token,
      ],
    );
    if (m.digestId) {
      await pool.query(`UPDATE digests SET status = 'failed', last_error = $1 WHERE id = $2`, [message, m.digestId]);
    }
    const gaveUp = rows.some((r) => r.status === 'failed');
    d.logger.warn(`delivery of ${m.deliveryId} (${m.contact.channel}) failed${gaveUp ? ' for good' : '; will retry'}`, {
      unitId: m.contact.unit_id,
      error: message,
    });
    return gaveUp;
  }

  /** Claimed but never attempted (the pass stopped on an error): back to the queue untouched. */
  async function release(messages: Message[]): Promise<void> {
    if (messages.length === 0) return;
    const tokens = messages.map((m) => m.token);
    await pool.query(
      `UPDATE outbox SET status = 'pending', claim_token = NULL, claimed_at = NULL, digest_id = NULL
       WHERE claim_token = ANY($1::text[]) AND status = 'sending'`,
      [tokens],
    );
    const digestIds = messages.flatMap((m) => (m.digestId ? [m.digestId] : []));
    if (digestIds.length > 0) await pool.query('DELETE FROM digests WHERE id = ANY($1::bigint[])', [digestIds]);
  }

  return {
    /**
     * One pass over the outbox: settles dead claims, then (outside quiet hours) sends what is due for up
     * to `contactsPerPass` contacts. Per-message failures are recorded on the rows, not thrown; only
     * database errors fail the activity, so Temporal's retry applies to the pass as a whole.
     */
    async deliverDue(input: DeliverDueInput): Promise<DeliverDueResult> {
      const { now } = input;
      const result: DeliverDueResult = {
        quiet: false,
        messages: 0,
        notices: 0,
        retrying: 0,
        failed: 0,
        unknown: await settleStaleClaims(),
        more: false,
      };
      // Retries and late passes can fall into quiet hours even though deliver_after never does: then only drills.
      const quiet = isQuiet(now, d.policy.quietHours);
      result.quiet = quiet;

      const { rows: contacts } = await pool.query<Contact>(
        `SELECT o.unit_id, u.name AS unit_name, o.channel, o.address
         FROM outbox o LEFT JOIN units u ON u.id = o.unit_id
         WHERE ${due('o', quiet)}
         GROUP BY o.unit_id, u.name, o.channel, o.address
         ORDER BY min(o.deliver_after), min(o.id)
         LIMIT $2`,
        [new Date(now), d.contactsPerPass + 1],
      );
      result.more = contacts.length > d.contactsPerPass;

      // Checked before every send, never during one: a send cut short has an unknown outcome.
      const stop = () => d.stopping() || cancelled();
      let stopped = false;
      for (const contact of contacts.slice(0, d.contactsPerPass)) {
        if (stop()) {
          stopped = true;
          break;
        }
        alive();
        const messages = await claim(contact, now, quiet);
        let next = 0;
        try {
          for (; next < messages.length; next += 1) {
            const m = messages[next]!;
            if (stop()) {
              stopped = true;
              break;
            }
            alive();
            try {
              await send(m);
            } catch (err) {
              if (await markFailed(m, now, err)) result.failed += 1;
              else result.retrying += 1;
              continue;
            }
            await markSent(m, now);
            result.messages += 1;
            result.notices += m.rows.length;
          }
        } finally {
          // Unsent messages remain when the pass stopped (from `next`, never attempted) or when recording an
          // outcome failed (after `next`, whose send happened: its claim is left for the lease to settle).
          await release(messages.slice(stopped ? next : next + 1)).catch(() => undefined);
        }
        if (stopped) break;
      }
      if (stopped) {
        if (cancelled()) throw new CancelledFailure('delivery pass cancelled; unsent notices stay queued');
        d.logger.info(
          `worker shutting down: delivery pass stopped after ${result.messages} message(s); the rest stays queued`,
        );
        return { ...result, more: true };
      }
      return result;
    },
  };
}
