import { createHmac } from 'node:crypto';
import type { Claim, OutboxContact } from '../db/outbox-repo';
import { toShanghaiIso } from '../domain/schedule';
import type { MessageText } from '../services/digest-template';
import { parseWebhookAddress, PermanentDeliveryError, type WebhookFormat } from '../services/webhook-address';
import { SMTP_NOT_CONFIGURED, type ResolvedDelivery } from './delivery';

/**
 * The delivery channels: how one message (a notice, or a contact's digest) goes out by email, to a webhook (duban's
 * JSON, a WeCom or DingTalk robot) or to the log, and how a failure is classified. The dispatcher's pass
 * (delivery-pass.ts) decides what to send and records the outcome.
 */

/** One message of a delivery pass: claimed rows, their contact and the rendered text. */
export interface Message extends Claim {
  contact: OutboxContact;
  /** Stable per attempt: Message-ID of the mail, Idempotency-Key of the webhook. */
  deliveryId: string;
  text: MessageText;
}

/** Robot text limits: WeCom documents 2048 bytes; DingTalk documents none for text, so stay well short. */
const CHAT_LIMIT_BYTES: Record<Exclude<WebhookFormat, 'duban'>, number> = { wecom: 2048, dingtalk: 15_000 };

export function errorText(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as Error & { code?: unknown; responseCode?: unknown }).code;
    const text = typeof code === 'string' && !err.message.includes(code) ? `${code}: ${err.message}` : err.message;
    return text.slice(0, 1000);
  }
  return String(err).slice(0, 1000);
}

export function isPermanent(err: unknown): boolean {
  if (err instanceof PermanentDeliveryError) return true;
  // SMTP 5xx replies (no such mailbox, relaying denied) are permanent by RFC 5321; 4xx are worth retrying.
  const responseCode = (err as { responseCode?: unknown } | null)?.responseCode;
  return typeof responseCode === 'number' && responseCode >= 500 && responseCode < 600;
}

/** Sends one message over its contact's channel; throws when it did not go out (PermanentDeliveryError: never will). */
export function createChannels(d: ResolvedDelivery): { send: (m: Message) => Promise<void> } {
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

  return { send };
}
