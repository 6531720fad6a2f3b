import { barChartSvg, type AnnualReport } from '../../domain/annual-report';
import { reportTables, type Cell, type Column, type Table } from '../../domain/report-table';
import { toShanghaiIso } from '../../domain/schedule';
import { html, page, raw, type Raw } from './html';

/** The annual report as a printable zh-CN page: its totals, two SVG charts and the report's tables. */

const pct = (r: number | null) => (r === null ? '—' : `${(r * 100).toFixed(1)}%`);

function cellText(value: Cell, column: Column): string | number {
  if (value === null) return '—';
  return column.percent && typeof value === 'number' ? pct(value) : value;
}

export function tableHtml(t: Table): Raw {
  return html`<table>
    <tr>
      ${t.columns.map((c) => html`<th>${c.header}</th>`)}
    </tr>
    ${t.rows.map(
      (row) =>
        html`<tr>
          ${row.map((value, i) => html`<td>${t.columns[i] ? cellText(value, t.columns[i]) : value}</td>`)}
        </tr>`,
    )}
  </table>`;
}

export function charts(r: AnnualReport): { onTime: string; escalations: string } {
  const ranked = r.units.filter((u) => u.onTimeRate !== null);
  const maxEsc = Math.max(1, ...r.workPoints.map((w) => w.escalations.lead + w.escalations.office));
  return {
    onTime: barChartSvg(
      '各单位按时报送率',
      ranked.map((u) => ({
        label: u.unitName,
        value: u.onTimeRate ?? 0,
        max: 1,
        text: `${pct(u.onTimeRate)}（${u.onTime}/${u.due}）`,
      })),
      '#1f883d',
    ),
    escalations: barChartSvg(
      '各要点督办与通报次数',
      r.workPoints.map((w) => ({
        label: `${w.number}. ${w.title.slice(0, 10)}`,
        value: w.escalations.lead + w.escalations.office,
        max: maxEsc,
        text: `督办 ${w.escalations.lead} · 通报 ${w.escalations.office}`,
      })),
      '#cf222e',
    ),
  };
}

export function annualReportHtml(r: AnnualReport): string {
  const c = charts(r);
  const tables = reportTables(r);
  const body = html` <style>
      @media print {
        header {
          display: none;
        }
        section {
          break-inside: avoid;
          border: 0;
        }
      }
    </style>
    <section>
      <h2>${r.year} 年度报告 · ${r.planTitle ?? ''}</h2>
      <p class="meta">
        ${r.final ? '最终结果（已全部评定）' : `阶段性结果，截至 ${toShanghaiIso(r.asOf).slice(0, 16).replace('T', ' ')}`}
      </p>
      <table>
        <tr>
          <th>要点</th>
          <td>
            ${r.totals.workPoints} 项：完成 ${r.totals.ratings['完成']}，基本完成
            ${r.totals.ratings['基本完成']}，未完成 ${r.totals.ratings['未完成']}，未评定 ${r.totals.ratings['未评定']}
          </td>
        </tr>
        <tr>
          <th>报送</th>
          <td>按时 ${r.totals.onTime}，逾期 ${r.totals.late}，未报 ${r.totals.missing}</td>
        </tr>
        <tr>
          <th>督办 / 通报</th>
          <td>${r.totals.escalationsLead} / ${r.totals.escalationsOffice}</td>
        </tr>
      </table>
    </section>
    <section>${raw(c.onTime)}</section>
    <section>${raw(c.escalations)}</section>
    <section>
      <h2>单位排名</h2>
      ${tableHtml(tables.units)}
    </section>
    <section>
      <h2>各要点情况</h2>
      ${tableHtml(tables.workPoints)}
    </section>
    <section>
      <h2>结转候选（未完成事项）</h2>
      ${
        tables.carryOver.rows.length === 0
          ? html`<p>无。</p>`
          : html`${tableHtml(tables.carryOver)}
              <p class="meta">可用 POST /api/plans/carry-over 导入下一年度的工作要点，并保留来源链接。</p>`
      }
    </section>`;
  return page(`${r.year} 年度报告`, body);
}
