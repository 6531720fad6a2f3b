import ExcelJS from 'exceljs';
import type { AnnualReport } from '../../domain/annual-report';
import { reportTables } from '../../domain/report-table';

/** The annual report as an Excel workbook: one worksheet per table of the report, headers bold. */
export async function annualReportXlsx(r: AnnualReport): Promise<Buffer> {
  const wb = new ExcelJS.Workbook();
  wb.creator = 'duban';
  const t = reportTables(r);
  for (const table of [t.workPoints, t.units, t.detail, t.carryOver]) {
    const ws = wb.addWorksheet(table.title);
    ws.columns = table.columns.map((c) => ({
      header: c.header,
      width: c.width,
      ...(c.percent ? { style: { numFmt: '0.0%' } } : {}),
    }));
    for (const row of table.rows) ws.addRow(row);
    ws.getRow(1).font = { bold: true };
  }
  return Buffer.from(await wb.xlsx.writeBuffer());
}
