import { annualReportCsv, buildAnnualReport, type ReportInput } from '../../domain/annual-report';
import { reportTables, tableCsv } from '../../domain/report-table';

const input: ReportInput = {
  year: 2023,
  planTitle: '2023年工作要点',
  asOf: Date.parse('2024-02-01T00:00:00+08:00'),
  final: true,
  workPoints: [
    {
      number: 7,
      title: '=HYPERLINK("http://evil.example/","点击")',
      text: '全文',
      section: '一',
      leadUnits: [{ id: 'jingfa', name: '经发局' }],
      responsibleUnits: ['town', 'idle'],
      rating: '基本完成',
      comment: '材料不全',
      workflowId: 'wp-2023-07',
      obligations: [
        { unitId: 'town', unitName: '中川镇', periodId: 'H1', periodLabel: '上半年', outcome: 'late' },
        { unitId: 'town', unitName: '中川镇', periodId: 'H2', periodLabel: '下半年', outcome: 'on-time' },
        { unitId: 'idle', unitName: '空闲局', periodId: 'H1', periodLabel: '上半年', outcome: 'waived' },
      ],
      escalations: { lead: 2, office: 1 },
    },
  ],
};

test('every row of the tables has one cell per column', () => {
  const t = reportTables(buildAnnualReport(input));
  const tables = [t.workPoints, t.units, t.detail, t.carryOver];
  for (const table of tables) for (const row of table.rows) expect(row).toHaveLength(table.columns.length);
  expect(tables.map((table) => table.title)).toEqual(['要点', '单位排名', '明细', '结转候选']);
});

test('the report tables carry what the report says: ratings, counts, ranking and carry-over', () => {
  const t = reportTables(buildAnnualReport(input));
  expect(t.workPoints.rows).toEqual([[7, input.workPoints[0]!.title, '基本完成', '材料不全', 1, 1, 0, 2, 1]]);
  // A unit with nothing due has no rate and no rank; it comes after the ranked ones.
  expect(t.units.rows).toEqual([
    [1, '中川镇', 0.5, 1, 1, 0, 0],
    [null, '空闲局', null, 0, 0, 0, 1],
  ]);
  expect(t.units.columns[2]).toEqual({ header: '按时率', width: 10, percent: true });
  expect(t.carryOver.rows).toEqual([['2023年第7条', input.workPoints[0]!.title, '基本完成', '经发局']]);
});

test('the CSV is the detail table, byte for byte what the annual report CSV has always been', () => {
  const report = buildAnnualReport(input);
  expect(tableCsv(reportTables(report).detail)).toBe(annualReportCsv(report));
});
