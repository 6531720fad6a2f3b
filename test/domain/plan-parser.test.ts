/**
 * The plan parser against the seed document, its variants and generated documents (fast-check). Above ~400 lines
 * on purpose: it follows the parser's rules one by one, and the parser is one module.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { PlanParseResultSchema, type PlanParseResult, type WorkPoint } from '../../domain/plan';
import { parsePlan } from '../../domain/plan-parser';
import seedFixture from '../fixtures/seed-plan.json';

const repoRoot = path.resolve(__dirname, '../..');
// The byte-identical copy shipped in data/seeds (test/data/seed-copy.test.ts checks it against ../shared).
const SEED_PATH = path.join(repoRoot, 'data/seeds/000_69415ce730313519.txt');
const seedText = readFileSync(SEED_PATH, 'utf8');
const seed = parsePlan(seedText);

function point(result: PlanParseResult, number: number): WorkPoint {
  const found = result.plan?.workPoints.find((wp) => wp.number === number);
  if (found === undefined) throw new Error(`work point ${number} missing`);
  return found;
}

function summary(
  result: PlanParseResult,
): Pick<WorkPoint, 'number' | 'section' | 'title' | 'leadUnits' | 'responsibleUnits'>[] {
  return (result.plan?.workPoints ?? []).map(({ number, section, title, leadUnits, responsibleUnits }) => ({
    number,
    section,
    title,
    leadUnits,
    responsibleUnits,
  }));
}

function warningsMatching(result: PlanParseResult, pattern: RegExp): PlanParseResult['warnings'] {
  return result.warnings.filter((w) => pattern.test(w.message));
}

describe('parsePlan on the 2023 Zhongchuan seed', () => {
  it('reads all 29 work points exactly as the hand-checked fixture', () => {
    expect(summary(seed)).toEqual(seedFixture);
  });

  it('reads the seed without a single warning and produces a schema-valid result', () => {
    expect(seed.warnings).toEqual([]);
    expect(() => PlanParseResultSchema.parse(seed)).not.toThrow();
  });

  it('reads the header: title, issuer, doc number, date and year', () => {
    expect(seed.plan).toMatchObject({
      title: '2023年兰州新区中川园区法治政府建设工作要点',
      issuer: '兰州新区中川园区党委全面依法治区委员会',
      docNumber: '新中法发〔2023〕2号',
      issuedAt: '2023-05-31',
      year: 2023,
    });
  });

  it('reads the 8 sections with their titles', () => {
    expect(seed.plan?.sections).toEqual([
      { number: '一', title: '深入学习贯彻党的二十大精神和习近平法治思想，持续加强党对法治政府建设的领导' },
      { number: '二', title: '进一步健全政府机构职能体系，营造市场化法治化一流营商环境' },
      { number: '三', title: '进一步健全依法行政制度体系，不断提升政府公信力和执行力' },
      { number: '四', title: '进一步健全突发事件应对体系，依法预防处置重大突发事件' },
      { number: '五', title: '进一步健全社会矛盾纠纷行政预防调处化解体系，不断促进社会公平正义' },
      { number: '六', title: '进一步健全行政权力制约监督体系，促进行政权力规范透明运行' },
      { number: '七', title: '进一步健全法治政府建设科技保障体系，全面建设数字法治政府' },
      { number: '八', title: '进一步加强组织领导，不断完善法治政府建设推进机制' },
    ]);
  });

  it('repairs words cut by page breaks inside item text', () => {
    expect(point(seed, 6).text).toContain('“一网通办”服务能力显著增强，企业和群众经常办理的政务服务事项');
    expect(point(seed, 8).text).toContain('开展“法治化营商环境提升专项行动”和“优化法治化营商环境护航高质量发展”');
    expect(point(seed, 11).text).toContain('紧紧围绕省、新区中心工作，积极配合');
    expect(point(seed, 26).text).toContain('严格执行法治政府建设年度报告制度');
  });

  it('repairs unit names cut by page breaks inside the unit parenthesis', () => {
    expect(point(seed, 23).responsibleUnits).toEqual(['中川镇', '各中心社区', '园区相关部门']);
    expect(point(seed, 18).responsibleUnits).toEqual(['中川镇', '各中心社区', '园区各部门']);
  });

  it('keeps the unit parenthesis, bold markers, intro and footer out of item text', () => {
    const points = seed.plan?.workPoints ?? [];
    for (const wp of points) {
      expect(wp.text).not.toMatch(/牵头单位|责任单位|\*\*|\n|印发|共印/);
      expect(wp.text.startsWith(wp.title)).toBe(true);
    }
    expect(points.some((wp) => wp.text.includes('总体要求'))).toBe(false);
    expect(point(seed, 29).text.endsWith('全面提升政治素养和业务能力。')).toBe(true);
  });

  it('splits lead units on a comma as well as on 、 (item 12)', () => {
    expect(point(seed, 12).leadUnits).toEqual(['园区依法治区办', '综合办']);
  });

  it('writes item text in one punctuation width: full width next to Chinese', () => {
    expect(point(seed, 11).text).not.toMatch(/[(),:;]/);
    expect(point(seed, 27).text).toContain('《法治政府建设实施纲要（2021—2025年）》');
    expect(point(seed, 24).text).toContain('移动端 App，保证');
  });
});

describe('parsePlan on other layouts', () => {
  const header = ['某某委员会文件', '某发〔2024〕7号', '2024年1月10日', '2024年某某工作要点'];

  it('numbers （一） items under 一、 sections sequentially across the plan', () => {
    const result = parsePlan(
      [
        ...header,
        '一、第一部分',
        '（一）甲事项。内容甲。（牵头单位：甲局；责任单位：乙局、丙局）',
        '（二）乙事项。内容乙。（牵头单位：乙局；责任单位：丙局）',
        '二、第二部分',
        '(一)丙事项。内容丙。(牵头单位:丙局;责任单位:甲局)',
      ].join('\n'),
    );
    expect(result.warnings).toEqual([]);
    expect(summary(result)).toEqual([
      { number: 1, section: '一', title: '甲事项', leadUnits: ['甲局'], responsibleUnits: ['乙局', '丙局'] },
      { number: 2, section: '一', title: '乙事项', leadUnits: ['乙局'], responsibleUnits: ['丙局'] },
      { number: 3, section: '二', title: '丙事项', leadUnits: ['丙局'], responsibleUnits: ['甲局'] },
    ]);
    expect(result.plan).toMatchObject({ issuer: '某某委员会', docNumber: '某发〔2024〕7号', year: 2024 });
  });

  it.each([
    ['1.', '2.'],
    ['1、', '2、'],
    ['1．', '2．'],
  ])('reads items numbered %s', (first, second) => {
    const result = parsePlan(
      [
        ...header,
        '一、唯一部分',
        `${first}甲事项。内容。（牵头单位：甲局；责任单位：乙局）`,
        `${second} 乙事项。内容。(牵头单位:乙局;责任单位:甲局、各中心社区)`,
      ].join('\n'),
    );
    expect(result.warnings).toEqual([]);
    expect(summary(result).map((wp) => [wp.number, wp.title, wp.responsibleUnits])).toEqual([
      [1, '甲事项', ['乙局']],
      [2, '乙事项', ['甲局', '各中心社区']],
    ]);
  });

  it('renumbers items that restart at 1 in every section', () => {
    const result = parsePlan(
      [
        ...header,
        '一、甲',
        '1. 甲一。（牵头单位：甲局；责任单位：乙局）',
        '2. 甲二。（牵头单位：甲局；责任单位：乙局）',
        '二、乙',
        '1. 乙一。（牵头单位：甲局；责任单位：乙局）',
      ].join('\n'),
    );
    expect(result.warnings).toEqual([]);
    expect(summary(result).map((wp) => [wp.number, wp.section, wp.title])).toEqual([
      [1, '一', '甲一'],
      [2, '一', '甲二'],
      [3, '二', '乙一'],
    ]);
  });

  it('reads （一） sections over 1. items when there are no 一、 headings', () => {
    const result = parsePlan(
      [
        ...header,
        '（一）甲部分',
        '1. 甲一。（牵头单位：甲局；责任单位：乙局）',
        '（二）乙部分',
        '2. 乙一。（牵头单位：甲局；责任单位：乙局）',
      ].join('\n'),
    );
    expect(result.warnings).toEqual([]);
    expect(result.plan?.sections).toEqual([
      { number: '一', title: '甲部分' },
      { number: '二', title: '乙部分' },
    ]);
    expect(summary(result).map((wp) => [wp.number, wp.section])).toEqual([
      [1, '一'],
      [2, '二'],
    ]);
  });

  it('reads 牵头单位 and 责任单位 on lines of their own, with or without parentheses', () => {
    const result = parsePlan(
      [
        ...header,
        '一、唯一部分',
        '1. 甲事项。内容甲。',
        '牵头单位：甲局',
        '责任单位：乙局、镇（中心社区）',
        '2. 乙事项。内容乙。',
        '',
        '（牵头单位：乙局；责任单位：中川镇、',
        '',
        '各中心社区）',
        '3. 丙事项。内容丙。',
        '责任单位：甲局，乙局',
        '4. 丁事项。内容丁。',
        '责任单位：中川镇、',
        '',
        '各中心社区、园',
        '',
        '区相关部门',
        '牵头单位：甲局',
      ].join('\n'),
    );
    expect(summary(result)).toEqual([
      { number: 1, section: '一', title: '甲事项', leadUnits: ['甲局'], responsibleUnits: ['乙局', '镇（中心社区）'] },
      { number: 2, section: '一', title: '乙事项', leadUnits: ['乙局'], responsibleUnits: ['中川镇', '各中心社区'] },
      { number: 3, section: '一', title: '丙事项', leadUnits: [], responsibleUnits: ['甲局', '乙局'] },
      {
        number: 4,
        section: '一',
        title: '丁事项',
        leadUnits: ['甲局'],
        responsibleUnits: ['中川镇', '各中心社区', '园区相关部门'],
      },
    ]);
    expect(point(result, 4).text).toBe('丁事项。内容丁。');
    expect(point(result, 1).text).toBe('甲事项。内容甲。');
    expect(result.warnings).toEqual([{ line: 14, message: expect.stringContaining('没有写明牵头单位') }]);
  });

  it('warns about an item without 牵头单位, without 责任单位, or without any unit parenthesis', () => {
    const result = parsePlan(
      [
        ...header,
        '一、唯一部分',
        '1. 甲事项。内容。（责任单位：乙局）',
        '2. 乙事项。内容。（牵头单位：甲局）',
        '3. 丙事项。内容。',
      ].join('\n'),
    );
    expect(summary(result).map((wp) => [wp.leadUnits, wp.responsibleUnits])).toEqual([
      [[], ['乙局']],
      [['甲局'], []],
      [[], []],
    ]);
    expect(result.warnings.map((w) => w.line)).toEqual([6, 7, 8]);
    expect(result.warnings[0]?.message).toContain('没有写明牵头单位');
    expect(result.warnings[1]?.message).toContain('没有写明责任单位');
    expect(result.warnings[2]?.message).toContain('没有写明牵头单位和责任单位');
  });

  it('warns with the line number about text between items that belongs to no item', () => {
    const result = parsePlan(
      [
        ...header,
        '一、唯一部分',
        '1. 甲事项。内容。（牵头单位：甲局；责任单位：乙局）',
        '',
        '这是一段夹在两条之间的说明文字。',
        '2. 乙事项。内容。（牵头单位：甲局；责任单位：乙局）',
      ].join('\n'),
    );
    expect(result.warnings).toEqual([{ line: 8, message: expect.stringContaining('这是一段夹在两条之间的说明文字') }]);
    expect(point(result, 1).text).toBe('甲事项。内容。');
  });

  it('warns about skipped and duplicated item numbers and keeps numbers unique', () => {
    const unit = '（牵头单位：甲局；责任单位：乙局）';
    const result = parsePlan(
      [...header, '一、唯一部分', `1. 甲。${unit}`, `3. 乙。${unit}`, `3. 丙。${unit}`].join('\n'),
    );
    expect(summary(result).map((wp) => [wp.number, wp.title])).toEqual([
      [1, '甲'],
      [3, '乙'],
      [4, '丙'],
    ]);
    expect(result.warnings).toEqual([
      { line: 7, message: expect.stringContaining('缺少第2条') },
      { line: 8, message: expect.stringContaining('重复或倒退') },
    ]);
    expect(() => PlanParseResultSchema.parse(result)).not.toThrow();
  });

  it('warns about a unit parenthesis that is not closed and still reads its units', () => {
    const result = parsePlan([...header, '一、唯一部分', '1. 甲。（牵头单位：甲局；责任单位：乙局、丙局'].join('\n'));
    expect(point(result, 1).responsibleUnits).toEqual(['乙局', '丙局']);
    expect(warningsMatching(result, /不配对/)).toEqual([{ line: 6, message: expect.any(String) }]);
  });

  it('warns about unknown labels and empty names inside the unit parenthesis', () => {
    const result = parsePlan(
      [...header, '一、唯一部分', '1. 甲。（牵头单位：甲局、、乙局；责任单位：丙局；配合单位：丁局）'].join('\n'),
    );
    expect(point(result, 1)).toMatchObject({ leadUnits: ['甲局', '乙局'], responsibleUnits: ['丙局'] });
    expect(warningsMatching(result, /空的单位名称/)).toHaveLength(1);
    expect(warningsMatching(result, /配合单位：丁局/)).toHaveLength(1);
  });

  it('reads a heading-like continuation after a page break as text, with a warning', () => {
    const result = parsePlan(
      [
        ...header,
        '三、唯一部分',
        '5. 甲事项。形成“分级负责、事项统',
        '',
        '一、权责清晰”的体系。（牵头单位：甲局；责任单位：乙局）',
      ].join('\n'),
    );
    expect(result.plan?.sections).toHaveLength(1);
    expect(point(result, 5).text).toBe('甲事项。形成“分级负责、事项统一、权责清晰”的体系。');
    expect(warningsMatching(result, /续行/)).toEqual([{ line: 8, message: expect.any(String) }]);
  });

  it('drops page-number lines and joins the text around them', () => {
    const result = parsePlan(
      [
        ...header,
        '一、唯一部分',
        '1. 甲事项。企',
        '',
        '— 3 —',
        '',
        '业和群众。（牵头单位：甲局；责任单位：乙局）',
      ].join('\n'),
    );
    expect(result.warnings).toEqual([]);
    expect(point(result, 1).text).toBe('甲事项。企业和群众。');
  });

  it('reads a plan without section headings, with section null and a warning', () => {
    const result = parsePlan(['2024年某某工作要点', '1. 甲。（牵头单位：甲局；责任单位：乙局）'].join('\n'));
    expect(summary(result)).toEqual([
      { number: 1, section: null, title: '甲', leadUnits: ['甲局'], responsibleUnits: ['乙局'] },
    ]);
    expect(warningsMatching(result, /没有找到部分标题/)).toHaveLength(1);
    expect(warningsMatching(result, /发文字号/)).toHaveLength(1);
  });

  it('returns no plan, with a warning, for empty input and for prose without items', () => {
    for (const input of ['', '\n  \n\t\n', '这是一段普通的文字。\n没有任何编号。']) {
      const result = parsePlan(input);
      expect(result.plan).toBeNull();
      expect(result.warnings).toEqual([{ line: 1, message: expect.stringMatching(/输入为空|没有找到任何部分标题/) }]);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Properties

const HEADING_START =
  /^\s*(\d{1,3}\s*[.．、]|[(（]\s*([一二三四五六七八九十]{1,3}|\d{1,3})\s*[)）]|[一二三四五六七八九十]{1,3}\s*[、.．])/;
const SEED_LINES = seedText.split('\n');
const FIRST_SECTION_LINE = SEED_LINES.findIndex((l) => l.startsWith('一、'));
const INTRO_LINE = SEED_LINES.findIndex((l) => l.startsWith('2023年,兰州新区'));

/** Where a page break may fall in a seed line: inside body text, never inside a number marker or a ** pair. */
function breakPositions(line: string, index: number): number[] {
  if (index !== INTRO_LINE && index < FIRST_SECTION_LINE) return [];
  if (/印发$|^共印/.test(line)) return [];
  const markerEnd = (/^(\d+\. |[一二三四五六七八]、)/.exec(line)?.[0].length ?? 0) + 1;
  const chars = [...line];
  const positions: number[] = [];
  for (let i = Math.max(markerEnd, 1); i < chars.length; i += 1) {
    const left = chars[i - 1] ?? '';
    const right = chars[i] ?? '';
    if (/\s|\*/.test(left) || /\s|\*/.test(right)) continue;
    if (HEADING_START.test(chars.slice(i).join(''))) continue;
    positions.push(i);
  }
  return positions;
}

const BREAKABLE_LINES = SEED_LINES.flatMap((line, index) => (breakPositions(line, index).length > 0 ? [index] : []));

const WIDTH_PAIRS: [string, string][] = [
  ['(', '（'],
  [')', '）'],
  [':', '：'],
  [',', '，'],
  [';', '；'],
];

interface Reflow {
  breaks: { line: number; at: number; gap: string }[];
  widths: boolean[];
  indents: string[];
  blankLines: string[];
  spaces: number[];
  crlf: boolean;
}

const reflowArb: fc.Arbitrary<Reflow> = fc.record({
  breaks: fc.array(
    fc.record({
      line: fc.constantFrom(...BREAKABLE_LINES),
      at: fc.nat({ max: 1000 }),
      gap: fc.constantFrom('\n', '\n\n', '\n\n\n', '\n \n', '\n\n— 12 —\n\n'),
    }),
    { maxLength: 12 },
  ),
  widths: fc.array(fc.boolean(), { minLength: 64, maxLength: 64 }),
  indents: fc.array(fc.constantFrom('', ' ', '\t', '　', '  '), { minLength: 8, maxLength: 8 }),
  blankLines: fc.array(fc.constantFrom('\n', '\n\n', '\n\n\n', '\n  \n'), { minLength: 8, maxLength: 8 }),
  spaces: fc.array(fc.nat({ max: 5000 }), { maxLength: 6 }),
  crlf: fc.boolean(),
});

function applyReflow(r: Reflow): string {
  // Page breaks inside paragraphs, several per line allowed, applied right to left so positions stay valid.
  const lines = SEED_LINES.map((line, index) => {
    const positions = breakPositions(line, index);
    const cuts = r.breaks
      .filter((b) => b.line === index)
      .map((b) => ({ at: positions[b.at % Math.max(positions.length, 1)], gap: b.gap }))
      .sort((a, b) => (b.at ?? 0) - (a.at ?? 0));
    const chars = [...line];
    for (const cut of cuts) if (cut.at !== undefined) chars.splice(cut.at, 0, cut.gap);
    return chars.join('');
  });
  let text = lines.join('\n');
  // Punctuation width, chosen per occurrence.
  let n = 0;
  text = text.replace(/[():,;（）：，；]/g, (c) => {
    const pair = WIDTH_PAIRS.find(([half, full]) => c === half || c === full);
    n += 1;
    if (pair === undefined) return c;
    return r.widths[n % r.widths.length] === true ? pair[1] : pair[0];
  });
  // Spaces between Chinese characters, as left by wrapping or copy-paste.
  const chars = [...text];
  for (const s of r.spaces) {
    const i = s % chars.length;
    const left = chars[i - 1];
    const right = chars[i];
    if (left !== undefined && right !== undefined && /[\u4e00-\u9fff]/.test(left) && /[\u4e00-\u9fff]/.test(right)) {
      chars.splice(i, 0, ' ');
    }
  }
  text = chars.join('');
  // Indentation and blank-line runs between paragraphs.
  let k = 0;
  text = text
    .split('\n')
    .map((line) => {
      k += 1;
      return line === ''
        ? line
        : `${r.indents[k % r.indents.length] ?? ''}${line}${r.indents[(k + 3) % r.indents.length] ?? ''}`;
    })
    .join('\n')
    .replace(/\n\n+/g, () => {
      k += 1;
      return r.blankLines[k % r.blankLines.length] ?? '\n\n';
    });
  return r.crlf ? text.replace(/\n/g, '\r\n') : text;
}

function checkInvariants(input: string, result: PlanParseResult): void {
  expect(() => PlanParseResultSchema.parse(result)).not.toThrow();
  const lineCount = input.split(/\r\n|\r|\n/).length;
  for (const w of result.warnings) {
    expect(w.line).toBeGreaterThanOrEqual(1);
    expect(w.line).toBeLessThanOrEqual(lineCount);
  }
  if (result.plan === null) expect(result.warnings.length).toBeGreaterThan(0);
}

describe('parsePlan properties', () => {
  it('reads the same plan, without warnings, however the seed is wrapped, spaced and punctuated', () => {
    fc.assert(
      fc.property(reflowArb, (r) => {
        const input = applyReflow(r);
        const result = parsePlan(input);
        expect(result.plan).toEqual(seed.plan);
        expect(result.warnings).toEqual([]);
      }),
      { numRuns: 150 },
    );
  });

  it('never throws on arbitrary strings and explains a missing plan', () => {
    const arbitraryText = fc.oneof(
      fc.string({ maxLength: 300 }),
      fc.string({ unit: 'binary', maxLength: 300 }),
      fc.string({ unit: 'grapheme', maxLength: 300 }),
    );
    fc.assert(
      fc.property(arbitraryText, (input) => {
        checkInvariants(input, parsePlan(input));
      }),
      { numRuns: 200 },
    );
  });

  it('never throws on documents assembled from plan-like fragments', () => {
    const fragment = fc.constantFrom(
      '一、',
      '二、',
      '十一、',
      '（一）',
      '(二)',
      '1. ',
      '2、',
      '3．',
      '（1）',
      '（牵头单位：',
      '(牵头单位:',
      '责任单位：',
      '；责任单位:',
      '牵头部门',
      '配合单位：',
      '、',
      '，',
      ',',
      '）',
      ')',
      '(',
      '。',
      '甲局',
      '各中心社区',
      '企',
      '业',
      '**',
      '\n',
      '\n\n',
      '\r\n',
      ' ',
      '　',
      '2023年5月31日',
      '2023年13月40日',
      '印发',
      '共印20份',
      '新中法发〔2023〕2号',
      '文件',
      '(代)',
      '工作要点',
      '关于印发《',
      '》的通知',
      '— 3 —',
    );
    fc.assert(
      fc.property(fc.array(fragment, { maxLength: 80 }), (parts) => {
        const input = parts.join('');
        checkInvariants(input, parsePlan(input));
      }),
      { numRuns: 200 },
    );
  });

  it('never throws on the seed lines shuffled, dropped or duplicated', () => {
    const lines = seedText.split('\n').filter((l) => l.trim() !== '');
    fc.assert(
      fc.property(
        fc.shuffledSubarray(lines),
        fc.array(fc.constantFrom(...lines), { maxLength: 5 }),
        (subset, extra) => {
          const input = [...subset, ...extra].join('\n\n');
          const result = parsePlan(input);
          checkInvariants(input, result);
          for (const wp of result.plan?.workPoints ?? []) {
            for (const unit of [...wp.leadUnits, ...wp.responsibleUnits]) expect(unit).not.toMatch(/[:：;；]/);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
