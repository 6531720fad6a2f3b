import { shanghaiDate } from '../domain/schedule';

/**
 * The live demo (演练): a rehearsal cycle of a plan for the current year whose milestones fall in the next minutes —
 * assignment now, reminder at 5 min, due at 10 min, then the overdue notice and the escalations — so a newcomer sees
 * the whole loop on the day they run it. Everything goes through the API (the same validation and audit as the
 * office), so `npm start` and `npx duban demo` share it. A drill already running for the year is cancelled and
 * started anew; a year that has a real cycle is left alone and the demo takes the next year without one.
 */

/** The demo's options for a period due `dueMs` after the start: reminder halfway, escalations after a fifth and two. */
export function demoOptions(dueMs = 10 * 60_000) {
  const d = (ms: number) => `PT${Math.max(1, Math.round(ms / 1000))}S`;
  return {
    drill: true,
    periods: [{ id: 'P1', label: '演练时段', opens: 'PT5S', due: d(dueMs) }],
    reminderBefore: d(dueMs / 2),
    leadEscalationAfter: d(dueMs / 5),
    officeEscalationAfter: d((2 * dueMs) / 5),
    review: { request: d(dueMs), summaryDue: d(dueMs), rating: d(dueMs) },
  };
}

export interface DemoLink {
  unit: string;
  workPoint: number;
  url: string;
}

export interface Demo {
  year: number;
  planId: number;
  links: DemoLink[];
  /** Why the demo is not in the current year, if it is not. */
  note?: string;
}

export class DemoError extends Error {
  override name = 'DemoError';
}

interface ApiOptions {
  apiUrl: string;
  token: string;
  /** Clock of the demo (tests pass their own). */
  now?: () => number;
  log?: (msg: string) => void;
  /** How long to wait for the first assignment notices. */
  timeoutMs?: number;
  /** When the demo period is due after its start (default 10 minutes). */
  dueMs?: number;
}

export async function startDemo(opts: ApiOptions): Promise<Demo> {
  const log = opts.log ?? (() => undefined);
  const now = opts.now ?? Date.now;
  const call = async <T>(method: string, path: string, body?: unknown): Promise<{ status: number; json: T }> => {
    const res = await fetch(`${opts.apiUrl.replace(/\/+$/, '')}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${opts.token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = text;
    }
    if (res.status >= 400) {
      const message = (json as { error?: { message?: string } } | undefined)?.error?.message ?? text;
      throw new DemoError(`${method} ${path}: ${res.status} ${message}`);
    }
    return { status: res.status, json: json as T };
  };

  const cycles = (await call<{ year: number; drill: boolean }[]>('GET', '/api/cycles')).json;
  const thisYear = Number(shanghaiDate(now()).slice(0, 4));
  let year = thisYear;
  while (cycles.some((c) => c.year === year && !c.drill)) year += 1;
  if (year > 2100) throw new DemoError('no free year for the demo');
  if (cycles.some((c) => c.year === year && c.drill)) {
    log(`demo: cancelling the running drill of ${year}`);
    await call('DELETE', `/api/cycles/${year}`);
  }

  const plans = (await call<{ id: number; year: number; derivedFrom: number | null }[]>('GET', '/api/plans')).json;
  let planId = plans.find((p) => p.year === year)?.id;
  if (planId === undefined) {
    // The seed (or any) plan, carried into the demo's year.
    const source = [...plans].sort((a, b) => a.id - b.id)[0];
    if (!source) throw new DemoError('no plan imported yet: import one with POST /api/plans first');
    planId = (await call<{ id: number }>('POST', `/api/plans/${source.id}/copy`, { year })).json.id;
    log(`demo: plan ${source.id} carried into ${year} as plan ${planId}`);
  }
  await call('POST', '/api/cycles', { year, planId, options: demoOptions(opts.dueMs) });

  // The links come from the assignment notices themselves: what the units get is what is printed.
  const deadline = Date.now() + (opts.timeoutMs ?? 90_000);
  let links: DemoLink[] = [];
  while (Date.now() < deadline) {
    const page = (
      await call<{
        items: { unit: { id: string; name: string | null }; workPoint: number | null; link: string | null }[];
      }>('GET', `/api/notifications?cycle=${year}&kind=assignment&limit=500`)
    ).json;
    const seen = new Set<string>();
    links = [];
    for (const n of [...page.items].sort((a, b) => (a.workPoint ?? 0) - (b.workPoint ?? 0))) {
      if (!n.link || seen.has(n.unit.id)) continue;
      seen.add(n.unit.id);
      links.push({ unit: n.unit.name ?? n.unit.id, workPoint: n.workPoint ?? 0, url: n.link });
      if (links.length === 3) break;
    }
    if (links.length === 3) break;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  if (links.length === 0) throw new DemoError(`the demo cycle ${year} started, but no assignment notice appeared yet`);
  return {
    year,
    planId,
    links,
    ...(year !== thisYear
      ? { note: `${thisYear} 年已有正式督办周期，演练使用 ${year} 年 / ${thisYear} has a real cycle` }
      : {}),
  };
}

/** The lines the launcher and the CLI print. */
export function demoLines(demo: Demo): string[] {
  return [
    `  演练 Demo      ${demo.year} 年演练周期（提醒 5 分钟后，截止 10 分钟后，随后催办、督办、通报）${demo.note ? ` — ${demo.note}` : ''}`,
    ...demo.links.map((l) => `    第${l.workPoint}条 ${l.unit}：${l.url}`),
    `    重新开始演练 / restart it: npx duban demo`,
  ];
}
