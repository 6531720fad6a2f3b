import { asyncLocalStorage, CancelledFailure, heartbeat } from '@temporalio/activity';
import type { Pool } from 'pg';
import {
  claimContact,
  dueContacts,
  markFailed as recordFailure,
  markSent,
  releaseClaims,
  settleStaleClaims as settleStale,
  type ClaimedRow,
  type OutboxContact,
} from '../db/outbox-repo';
import { isQuiet, retryDelayMs } from '../domain/delivery-time';
import { renderDigest, renderSingle, type DigestItem, type MessageText } from '../services/digest-template';
import { createChannels, errorText, isPermanent, type Message } from './delivery-channels';
import { OUTCOME_UNKNOWN, type ResolvedDelivery } from './delivery';

/**
 * The dispatcher's delivery pass (see delivery.ts for the whole picture): settle dead claims, claim a contact's due
 * rows, send them as messages (bypassing notices one by one, the rest as one digest) and record each outcome.
 */

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
  const { send } = createChannels(d);

  /** Claims settled by nobody: their worker died between claim and outcome. */
  async function settleStaleClaims(): Promise<number> {
    const ids = await settleStale(pool, OUTCOME_UNKNOWN, d.claimLeaseMs);
    if (ids.length > 0) {
      d.logger.warn(
        `${ids.length} notice(s) left in 'sending' by a stopped worker were marked failed (outcome unknown)`,
        {
          ids,
        },
      );
    }
    return ids.length;
  }

  /** Claims every due row of one contact: its bypassing notices one message each, the rest as one digest. */
  async function claim(contact: OutboxContact, now: number, quiet: boolean): Promise<Message[]> {
    const unitName = contact.unit_name ?? contact.unit_id;
    const claimed = await claimContact(pool, contact, now, quiet, (rows) => {
      const digestRows = rows.filter((r) => r.digest).sort(byUrgency);
      const groups = [...rows.filter((r) => !r.digest).map((r) => [r]), ...(digestRows.length > 0 ? [digestRows] : [])];
      return groups.map((group) => {
        const text: MessageText =
          group.length > 1 ? renderDigest(unitName, group.map(item), now) : renderSingle(item(group[0]!));
        return { rows: group, text, ...(group.length > 1 ? { digestSubject: text.subject } : {}) };
      });
    });
    return claimed.map(({ rows, text, token, digestId }) => ({
      contact,
      rows,
      token,
      ...(digestId !== undefined ? { digestId } : {}),
      deliveryId: digestId !== undefined ? `digest-${digestId}` : `outbox-${rows[0]!.id}`,
      text,
    }));
  }

  /** Returns true when the rows failed for good, false when they went back to the queue. */
  async function markFailed(m: Message, now: number, err: unknown): Promise<boolean> {
    const message = errorText(err);
    const gaveUp = await recordFailure(pool, m, {
      lastError: message,
      permanent: isPermanent(err),
      maxAttempts: d.maxAttempts,
      retryAt: (r) => new Date(now + retryDelayMs(r.attempts + 1)),
    });
    d.logger.warn(`delivery of ${m.deliveryId} (${m.contact.channel}) failed${gaveUp ? ' for good' : '; will retry'}`, {
      unitId: m.contact.unit_id,
      error: message,
    });
    return gaveUp;
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

      const contacts = await dueContacts(pool, now, quiet, d.contactsPerPass + 1);
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
            await markSent(pool, m, now);
            result.messages += 1;
            result.notices += m.rows.length;
          }
        } finally {
          // Unsent messages remain when the pass stopped (from `next`, never attempted) or when recording an
          // outcome failed (after `next`, whose send happened: its claim is left for the lease to settle).
          await releaseClaims(pool, messages.slice(stopped ? next : next + 1)).catch(() => undefined);
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
