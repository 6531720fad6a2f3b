import type { FastifyInstance } from 'fastify';
import { isDrillOptions } from '../../../db/cycles-repo';
import { recentPlans } from '../../../db/plans-repo';
import { listCycleOverviews } from '../../../db/projection-repo';
import { shanghaiDate } from '../../../domain/schedule';
import { html, type Raw } from '../../views/html';
import { DRILL_BADGE, requireActor, sendPage, signedIn } from './layout';

/** The year a cycle started now would be: the calendar year in Beijing, read from the clock at every request. */
const currentYear = (): number => Number(shanghaiDate(Date.now()).slice(0, 4));

/** GET /dashboard: every cycle with its lights; on a fresh install, what to do first. */
export default async function dashboardOverview(app: FastifyInstance): Promise<void> {
  app.get('/dashboard', { schema: { hide: true } }, async (request, reply) => {
    if (!requireActor(request, reply)) return reply;
    const cycles = await listCycleOverviews(app.db);
    const body = html`<section>
        <h2>年度周期</h2>
        ${
          cycles.length === 0
            ? await nextSteps()
            : html`<table>
                <tr>
                  <th>年度</th>
                  <th>要点</th>
                  <th>红</th>
                  <th>黄</th>
                  <th>绿</th>
                  <th>状态</th>
                </tr>
                ${cycles.map(
                  (c) =>
                    html`<tr>
                      <td>
                        <a href="/dashboard/cycles/${c.year}">${c.year} 年</a>
                        ${isDrillOptions(c.options) ? DRILL_BADGE : ''}
                      </td>
                      <td>${c.projected}</td>
                      <td>${c.lights.red}</td>
                      <td>${c.lights.yellow}</td>
                      <td>${c.lights.green}</td>
                      <td>${c.finishedAt ? '已办结' : '进行中'}</td>
                    </tr>`,
                )}
              </table>`
        }
      </section>
      ${signedIn(request)}`;
    return sendPage(reply, 200, '督办总览', body);
  });

  /** What to do on a fresh install: rehearse with the demo, or start this year (computed now, never a fixed year). */
  async function nextSteps(): Promise<Raw> {
    const year = currentYear();
    const plans = await recentPlans(app.db, 10);
    const planForYear = plans.find((p) => p.year === year);
    return html`<p>尚未启动年度周期。下一步可以：</p>
      <h3>先演练</h3>
      <p>
        <code>npx duban demo</code> —— 以今天的日期启动一个演练周期
        ${DRILL_BADGE}：其通知和报告都是练习数据，不是正式督办。
      </p>
      <h3>启动 ${year} 年度周期</h3>
      <ol>
        <li>
          ${
            planForYear
              ? html`${year} 年的工作要点已导入（计划 #${planForYear.id}），可直接启动。`
              : html`准备 ${year} 年的工作要点：用 <code>POST /api/plans</code> 导入，或把已导入的计划复制到 ${year}
                  年：
                  <code>npx duban plan copy &lt;planId&gt; --year ${year}</code
                  >${plans.length > 0 ? '（planId 见下表）' : ''}。`
          }
        </li>
        <li>
          启动：<code>POST /api/cycles</code>，请求体 <code>{"year": ${year}}</code>（也可用
          <code>npx duban cycle start ${year}</code>）
        </li>
      </ol>
      ${
        plans.length === 0
          ? html`<p class="hint">还没有导入任何计划。</p>`
          : html`<table>
              <tr>
                <th>计划编号（planId）</th>
                <th>年度</th>
                <th>标题</th>
              </tr>
              ${plans.map(
                (p) =>
                  html`<tr>
                    <td>${p.id}</td>
                    <td>${p.year}</td>
                    <td>${p.title ?? ''}</td>
                  </tr>`,
              )}
            </table>`
      }`;
  }
}
