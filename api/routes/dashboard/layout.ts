import type { FastifyReply, FastifyRequest } from 'fastify';
import { html, page, raw, type Raw } from '../../views/html';

/** What every dashboard page shares: its style, the sign-in check, the error page and the signed-in footer. */

const GRID_STYLE = `
.grid{overflow-x:auto}.grid table{font-size:13px;border-collapse:collapse}.grid th,.grid td{border:1px solid #d0d7de;padding:4px 6px;white-space:nowrap}
.grid thead th{position:sticky;top:0;background:#f6f8fa;writing-mode:vertical-rl;text-orientation:upright;max-height:9em}
.grid th.wp{writing-mode:horizontal-tb;text-align:left;white-space:normal;min-width:14em}
td.c-red{background:#ff8182}td.c-yellow{background:#fae17d}td.c-green{background:#aceebb}td.c-none{background:#fff}
.legend span{display:inline-block;padding:2px 10px;margin-right:6px;border-radius:4px}
form.filters{display:flex;flex-wrap:wrap;gap:8px;align-items:end}form.filters label{margin:0;font-weight:400;font-size:13px}
form.filters button{width:auto;margin:0;padding:6px 14px}
section.drill{border:2px solid #bc4c00;background:#fff1e5;color:#762c00}.badge.drill{background:#bc4c00;color:#fff;font-weight:600}
section.views p{margin:4px 0}section.views a{margin-right:4px}h3{font-size:15px;margin:14px 0 4px}ol{margin:4px 0;padding-left:1.6em}
`;

export const DRILL_BADGE = html`<span class="badge drill">演练</span>`;

export const sendPage = (reply: FastifyReply, status: number, title: string, body: Raw) =>
  reply
    .status(status)
    .type('text/html; charset=utf-8')
    .header('cache-control', 'no-store')
    .send(
      page(
        title,
        html`<style>
            ${raw(GRID_STYLE)}</style
          >${body}`,
      ),
    );

export const badRequest = (reply: FastifyReply, problems: string[]) =>
  sendPage(
    reply,
    400,
    '参数错误',
    html`<section class="error">
      <h2>参数错误</h2>
      <ul>
        ${problems.map((p) => html`<li>${p}</li>`)}
      </ul>
      <p><a href="/dashboard">返回总览</a></p>
    </section>`,
  );

/** Pages need a signed-in office user; otherwise the login form, which comes back here. */
export function requireActor(request: FastifyRequest, reply: FastifyReply): boolean {
  if (request.actor) return true;
  void reply.redirect(`/dashboard/login?next=${encodeURIComponent(request.url)}`, 303);
  return false;
}

export function signedIn(request: FastifyRequest): Raw {
  return html`<section class="meta">
    已登录：${request.actor?.name ?? ''}（${request.actor?.role ?? ''}）
    <form method="post" action="/dashboard/logout" style="display:inline">
      <button style="width:auto;padding:4px 12px;margin:0 0 0 8px;background:#57606a">退出</button>
    </form>
  </section>`;
}
