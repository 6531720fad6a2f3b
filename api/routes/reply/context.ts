import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { LinkError, verifyLink, type LinkClaims, type LinkKeys } from '../../../common/links';
import { getReplyState } from '../../../db/replies-repo';
import { workPointWorkflowId } from '../../../workflows/shared';
import { html, type Raw } from '../../views/html';
import type { ReplyLookups } from './lookups';
import { sendPage } from './respond';

/**
 * What a reply link stands for: the token decides everything (cycle, work point, unit, purpose, period); the form
 * carries no unit, so a token of unit A can never act for unit B.
 */
export interface Context {
  /** The link's token, for the links on the page (attachments, back to the form). */
  token: string;
  claims: LinkClaims;
  workflowId: string;
  periodId: string;
  periodLabel: string;
  dueAt: number;
  state: string | undefined;
  acknowledged: boolean;
  workPoint: { number: number; section: string | null; title: string; text: string };
  unit: { id: string; name: string };
  closed: boolean;
  /** A rehearsal (演练): the page says so. */
  drill: boolean;
}

/** A link that cannot be used, with the page that says why. */
class PageError extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly body: Raw,
  ) {
    super(title);
  }
}

const invalidLink = () =>
  new PageError(
    403,
    '链接无效',
    html`<section>
      <h2>链接无效</h2>
      <p>该链接不完整或已被改动，无法使用。请从提醒消息中完整复制链接，或联系园区依法治区办。</p>
    </section>`,
  );

async function loadContext(
  app: FastifyInstance,
  lookups: ReplyLookups,
  keys: LinkKeys,
  token: string,
): Promise<Context> {
  let claims: LinkClaims;
  try {
    claims = verifyLink(keys, token, Date.now());
  } catch (err) {
    if (err instanceof LinkError && err.reason === 'expired') {
      throw new PageError(
        410,
        '链接已过期',
        html`<section>
          <h2>链接已过期</h2>
          <p>为安全起见，报送链接有有效期。请联系园区依法治区办重新发送提醒，或等待下一次提醒邮件中的新链接。</p>
        </section>`,
      );
    }
    throw invalidLink();
  }
  // One fresh read of what may change (cycle, unit, obligation, assignment); the fixed parts come from the cache.
  const workflowId = workPointWorkflowId(claims.y, claims.wp);
  const state = await getReplyState(app.db, {
    year: claims.y,
    workPoint: claims.wp,
    workflowId,
    unitId: claims.u,
    period: claims.p === 'report' ? (claims.per ?? null) : null,
  });
  const wp = state && (await lookups.workPoint(state.cycle.planId, claims.wp));
  const unit = state?.unit;
  if (!state || !wp || !unit) {
    throw new PageError(
      404,
      '未找到',
      html`<section>
        <h2>未找到该督办事项</h2>
        <p>请联系园区依法治区办核实。</p>
      </section>`,
    );
  }
  const { schedule, drill } = lookups.cycle(claims.y, state.cycle.optionsText);
  const closed = state.cycle.finishedAt !== null;
  if (claims.p === 'summary') {
    const assigned = state.assignment;
    if (assigned && !assigned.leadUnits.includes(unit.id)) {
      throw new PageError(
        403,
        '无需报送',
        html`<section>
          <h2>你单位不是该要点的牵头单位</h2>
          <p>年度总结由牵头单位报送。</p>
        </section>`,
      );
    }
    return {
      token,
      claims,
      workflowId,
      periodId: 'review',
      periodLabel: '年度总结',
      dueAt: schedule.review.summaryDueAt,
      state: undefined,
      acknowledged: true,
      workPoint: wp,
      unit: { id: unit.id, name: unit.name },
      closed,
      drill,
    };
  }
  // A report link names its period, and the period must be one of this cycle's: a link is used for exactly what
  // it was signed for.
  const period = claims.p === 'report' ? schedule.periods.find((p) => p.id === claims.per) : undefined;
  if (!period) throw invalidLink();
  const periodId = period.id;
  const obligation = state.obligation;
  // Only a unit the status projection does not list yet needs its assignment checked.
  const assigned = obligation ? undefined : state.assignment;
  if (assigned && !assigned.responsibleUnits.includes(unit.id)) {
    throw new PageError(
      403,
      '无需报送',
      html`<section>
        <h2>你单位不承担该要点的报送任务</h2>
        <p>第${wp.number}条「${wp.title}」。如有疑问请联系园区依法治区办。</p>
      </section>`,
    );
  }
  return {
    token,
    claims,
    workflowId,
    periodId,
    periodLabel: period.label,
    dueAt: obligation?.dueAt.getTime() ?? period.dueAt,
    state: obligation?.state,
    acknowledged: obligation?.acknowledgedAt != null,
    workPoint: wp,
    unit: { id: unit.id, name: unit.name },
    closed,
    drill,
  };
}

/**
 * The context of the request's link, or undefined once the page saying why the link cannot be used (invalid,
 * expired, not found, not this unit's) has been sent.
 */
export async function withContext(
  app: FastifyInstance,
  lookups: ReplyLookups,
  keys: LinkKeys,
  request: FastifyRequest<{ Params: { token: string } }>,
  reply: FastifyReply,
): Promise<Context | undefined> {
  try {
    return await loadContext(app, lookups, keys, request.params.token);
  } catch (err) {
    if (err instanceof PageError) {
      await sendPage(reply, err.status, err.title, err.body);
      return undefined;
    }
    throw err;
  }
}
