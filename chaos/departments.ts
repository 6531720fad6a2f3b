import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { scopedSubmissionId } from '../api/routes/reply';
import { parseLinkKeys, signLink } from '../common/links';
import { submitReportUpdate, workPointWorkflowId } from '../workflows/shared';
import { FORM_HEADERS, formBody } from '../bench/measure';
import { shuffle } from '../bench/synthetic';
import type { Behaviour, Department, Drill, Stats, Variant } from './types';

/** The simulated departments: who reports when and how, and the HTTP submissions a person would make. */

const RETRY_MIN_MS = 300;
const MAX_ATTEMPTS = 200;

/**
 * One department per unit of each work point, with its behaviour: every behaviour and variant at least once,
 * the rest drawn (about 55 % on time, 20 % late, 25 % never), acting at a time that is often near a fault.
 */
export function makeDepartments(drill: Drill, faultTimes: number[]): Department[] {
  const { o, random, year, t0, dueAt } = drill;
  const keys = parseLinkKeys(drill.stack.linkSecret);
  const exp = Math.floor(Date.now() / 1000) + 86_400;
  const departments: Department[] = drill.assignments.flatMap((a) =>
    a.units.map((u) => ({
      wp: a.wp,
      unitId: u.id,
      unitName: u.name,
      behaviour: 'never',
      variant: 'single',
      submitAt: t0,
      opensPage: false,
      token: signLink(keys, { y: year, wp: a.wp, u: u.id, p: 'report', per: 'P1', exp }),
      accepted: new Set<string>(),
      attempted: new Set<string>(),
    })),
  );
  const pickTime = (from: number, to: number): number => {
    const near = faultTimes.filter((t) => t > from + 600 && t < to);
    if (near.length > 0 && random() < 0.6)
      // From just before (the worker is busy with it when killed) to just after (the API or Temporal is away).
      return (near[Math.floor(random() * near.length)] ?? from) - 600 + random() * 1_600;
    return from + random() * (to - from);
  };
  const forced: [Behaviour, Variant][] = [
    ['on-time', 'double'],
    ['late', 'single'],
    ['never', 'single'],
    ['on-time', 'repeat'],
    ['on-time', 'correct'],
    ['on-time', 'interrupted'],
  ];
  shuffle(departments, random).forEach((d, i) => {
    const r = random();
    const v = random();
    [d.behaviour, d.variant] = forced[i] ?? [
      r < 0.55 ? 'on-time' : r < 0.75 ? 'late' : 'never',
      v < 0.3 ? 'double' : v < 0.55 ? 'repeat' : v < 0.8 ? 'correct' : 'interrupted',
    ];
    d.opensPage = random() < 0.5;
    d.submitAt =
      d.behaviour === 'late'
        ? pickTime(dueAt + 0.15 * o.leadS * 1000, dueAt + 0.5 * o.leadS * 1000)
        : pickTime(t0 + 0.1 * o.dueS * 1000, t0 + 0.55 * o.dueS * 1000);
  });
  return departments;
}

/** What one department does over the drill, counting into `stats`; submissions are retried until the office escalation + 10 s. */
export function departmentSimulation(drill: Drill, stats: Stats): (d: Department) => Promise<void> {
  const { stack, http, o, year, t0 } = drill;
  const retryUntil = drill.officeAt + 10_000;

  /** The id the workflow and PostgreSQL know a form by (the API scopes it to the link). */
  const scoped = (d: Department, formId: string) =>
    scopedSubmissionId({ year, workPoint: d.wp, unitId: d.unitId, purpose: 'report', periodId: 'P1' }, formId);

  /** One submission, retried with the same submission id until it is answered 200 or 409, or time is up. */
  const submit = async (d: Department, formId: string, text: string): Promise<boolean> => {
    const submissionId = scoped(d, formId);
    d.attempted.add(submissionId);
    for (let attempt = 0; attempt < MAX_ATTEMPTS && Date.now() < retryUntil; attempt++) {
      if (attempt > 0) stats.retries = (stats.retries ?? 0) + 1;
      stats.posts = (stats.posts ?? 0) + 1;
      try {
        const res = await http.request('POST', `/r/${d.token}`, {
          body: formBody({ submissionId: formId, text }),
          headers: FORM_HEADERS,
          timeoutMs: 10_000,
        });
        if (res.status === 200 && res.body.includes('已收到')) {
          // The page says so when the receipt already existed, or the workflow knew the form: counted once.
          const key = res.body.includes('重复提交只计一次') ? 'answeredFromReceipt' : 'answeredAfterUpdate';
          stats[key] = (stats[key] ?? 0) + 1;
          d.accepted.add(submissionId);
          d.firstAcceptedAt ??= Date.now();
          return true;
        }
        if (res.status === 409 || res.status === 422 || res.status === 403) {
          stats.refused = (stats.refused ?? 0) + 1;
          return false;
        }
      } catch {
        // Connection refused or reset while the API restarts: the person clicks again.
      }
      await sleep(RETRY_MIN_MS + Math.random() * 500);
    }
    return false;
  };
  const openPage = async (d: Department): Promise<void> => {
    stats.opens = (stats.opens ?? 0) + 1;
    await http.request('GET', `/r/${d.token}`, { timeoutMs: 10_000 }).catch(() => undefined);
  };

  /** What api/routes/reply/submit.ts sends once the form is valid, as if the API died before answering. */
  const updateLikeTheApi = async (d: Department, formId: string, text: string): Promise<void> => {
    const client = await stack.client();
    const submissionId = scoped(d, formId);
    const payload = { unitId: d.unitId, periodId: 'P1', submissionId, text, attachments: [], submittedAt: Date.now() };
    for (let attempt = 0; attempt < MAX_ATTEMPTS && Date.now() < retryUntil; attempt++) {
      try {
        await client.workflow.getHandle(workPointWorkflowId(year, d.wp)).executeUpdate(submitReportUpdate, {
          args: [payload],
        });
        return;
      } catch {
        await sleep(RETRY_MIN_MS + Math.random() * 500);
      }
    }
  };

  return async (d: Department): Promise<void> => {
    await sleep(Math.max(0, d.submitAt - Date.now()));
    if (d.opensPage) await openPage(d);
    if (d.behaviour === 'never') return;
    const id = randomUUID();
    const text = `${d.unitName}报送第${d.wp}条进展（${d.behaviour}）`;
    if (d.behaviour === 'on-time' && d.variant === 'double') {
      // A double click: the same form twice at once, so both requests pass the receipt check and send the update.
      stats.concurrentDuplicates = (stats.concurrentDuplicates ?? 0) + 1;
      await Promise.all([submit(d, id, text), submit(d, id, text)]);
      return;
    }
    if (d.behaviour === 'on-time' && d.variant === 'interrupted') {
      stats.interrupted = (stats.interrupted ?? 0) + 1;
      d.attempted.add(scoped(d, id));
      await updateLikeTheApi(d, id, text);
    }
    const accepted = await submit(d, id, text);
    if (!accepted || d.behaviour !== 'on-time') return;
    if (d.variant === 'repeat') {
      // The back button and submit again: the receipt must say it counted once.
      stats.repeatsAfterReceipt = (stats.repeatsAfterReceipt ?? 0) + 1;
      await submit(d, id, text);
    } else if (d.variant === 'correct' && Date.now() < t0 + 0.7 * o.dueS * 1000) {
      stats.corrections = (stats.corrections ?? 0) + 1;
      await submit(d, randomUUID(), `${text}（更正）`);
    }
  };
}
