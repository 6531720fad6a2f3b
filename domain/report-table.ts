import { csvField, OUTCOME_LABEL, type AnnualReport } from './annual-report';

/**
 * The annual report as tables: rows and columns decided once, here, and rendered as HTML (api/views/report-html.ts),
 * Excel (api/views/report-xlsx.ts) and CSV (tableCsv below). Pure: a renderer only chooses how a cell looks
 * (a missing value, a percentage), never what the rows and columns are.
 */

export type Cell = string | number | null;

export interface Column {
  header: string;
  /** Width in characters, for the spreadsheet. */
  width: number;
  /** A fraction shown as a percentage (0.25 → 25.0%). */
  percent?: boolean;
}

export interface Table {
  /** The table's heading, and the worksheet's name. */
  title: string;
  columns: Column[];
  /** One cell per column, in column order. */
  rows: Cell[][];
}

export interface ReportTables {
  /** 要点: per work point its rating and counts. */
  workPoints: Table;
  /** 单位排名: per unit its standing, in ranking order. */
  units: Table;
  /** 明细: one row per work point × unit × period (the CSV). */
  detail: Table;
  /** 结转候选: the items not completed. */
  carryOver: Table;
}

const col = (header: string, width: number, percent?: boolean): Column =>
  percent ? { header, width, percent } : { header, width };

export function reportTables(r: AnnualReport): ReportTables {
  return {
    workPoints: {
      title: '要点',
      columns: [
        col('要点', 6),
        col('标题', 40),
        col('评定', 10),
        col('评定意见', 30),
        col('按时', 8),
        col('逾期', 8),
        col('未报', 8),
        col('督办', 8),
        col('通报', 8),
      ],
      rows: r.workPoints.map((w) => [
        w.number,
        w.title,
        w.rating ?? '未评定',
        w.comment || null,
        w.counts['on-time'],
        w.counts.late,
        w.counts.missing,
        w.escalations.lead,
        w.escalations.office,
      ]),
    },
    units: {
      title: '单位排名',
      columns: [
        col('名次', 6),
        col('单位', 24),
        col('按时率', 10, true),
        col('按时', 8),
        col('逾期', 8),
        col('未报', 8),
        col('免报', 8),
      ],
      rows: r.units.map((u) => [u.rank, u.unitName, u.onTimeRate, u.onTime, u.late, u.missing, u.waived]),
    },
    detail: {
      title: '明细',
      columns: [
        col('年度', 6),
        col('要点', 6),
        col('标题', 40),
        col('评定', 10),
        col('单位', 24),
        col('时段', 10),
        col('报送情况', 10),
        col('督办次数', 8),
        col('通报次数', 8),
      ],
      rows: r.workPoints.flatMap((w) =>
        w.obligations.map((o) => [
          r.year,
          w.number,
          w.title,
          w.rating ?? '未评定',
          o.unitName,
          o.periodLabel,
          OUTCOME_LABEL[o.outcome],
          w.escalations.lead,
          w.escalations.office,
        ]),
      ),
    },
    carryOver: {
      title: '结转候选',
      columns: [col('来源', 14), col('标题', 40), col('评定', 10), col('牵头单位', 30)],
      rows: r.carryOver.map((c) => [
        `${c.origin.year}年第${c.origin.number}条`,
        c.title,
        c.origin.rating ?? '未评定',
        c.leadUnits.join('、'),
      ]),
    },
  };
}

/**
 * A table as CSV (RFC 4180, UTF-8 with BOM so Excel opens it as UTF-8), text neutralised against formula injection
 * (csvField). The report's CSV is its detail table.
 */
export function tableCsv(t: Table): string {
  const lines = [t.columns.map((c) => csvField(c.header)), ...t.rows.map((row) => row.map(csvField))].map((cells) =>
    cells.join(','),
  );
  return `\ufeff${lines.join('\r\n')}\r\n`;
}
