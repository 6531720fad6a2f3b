import { DEMO_UNIT_DIRECTORY } from '../../domain/demo-directory';
import {
  type UnitDirectory,
  type UnitDirectoryInput,
  type WorkPointUnits,
  UNIT_GROUPS,
  UnitDirectorySchema,
  UnitSchema,
  findUnitByName,
  fnv1a32,
  normalizeUnitName,
  officeUnit,
  resolveAssignees,
  resolvePlanAssignees,
  slugForUnitName,
} from '../../domain/units';

const STD = ['中川镇', '各中心社区', '园区各部门'];
const ENF = ['中川镇', '各中心社区', '园区各行政执法部门'];

/**
 * Lead and responsible units of the 29 work points of seeds/000_69415ce730313519.txt, copied by
 * hand (the plan parser is developed separately; this test must not depend on it).
 */
const SEED: WorkPointUnits[] = (
  [
    [1, ['园区依法治区办'], STD],
    [2, ['园区依法治区办'], STD],
    [3, ['园区依法治区办'], STD],
    [4, ['组织人事局'], STD],
    [5, ['经发局', '市场监管局'], ['中川镇', '各中心社区', '园区相关部门']],
    [6, ['经发局'], STD],
    [7, ['园区依法治区办'], ['综合办', '经发局', ...ENF]],
    [8, ['园区依法治区办'], ['中川镇', '各中心社区', '园区相关部门']],
    [9, ['园区依法治区办'], STD],
    [10, ['园区依法治区办'], STD],
    [11, ['农林水务局', '市场监管局', '资环局'], ['民政和社保局', '中川镇', '各中心社区']],
    [12, ['园区依法治区办', '综合办'], STD],
    [13, ['园区依法治区办', '组织人事局'], ENF],
    [14, ['园区依法治区办'], ENF],
    [15, ['应急局'], STD],
    [16, ['应急局'], STD],
    [17, ['民政和社保局'], ['中川镇', '各中心社区', '园区各相关部门']],
    [18, ['园区依法治区办', '综合办'], STD],
    [19, ['综合办'], ENF],
    [20, ['园区依法治区办'], ENF],
    [21, ['综合办', '经发局'], STD],
    [22, ['综合办', '经发局'], ['经合局', '资环局', '农林水务局', '财政局', '中川镇', '各中心社区']],
    // The PDF broke '园区相关部门' across a line in item 23; whitespace must not matter.
    [23, ['经发局'], ['中川镇', '各中心社区', '园\n\n区相关部门']],
    [24, ['经发局', '市场监管局'], ENF],
    [25, ['园区依法治区办', '组织人事局'], STD],
    [26, ['园区依法治区办'], STD],
    [27, ['园区依法治区办'], STD],
    [28, ['园区依法治区办', '综合办', '财政局'], STD],
    [29, ['园区依法治区办'], STD],
  ] as const
).map(([number, leadUnits, responsibleUnits]) => ({ number, leadUnits, responsibleUnits }));

const seedItem = (n: number): WorkPointUnits => SEED.find((wp) => wp.number === n)!;
const names = (list: { unit: { name: string } }[]): string[] => list.map((r) => r.unit.name);

/** A small directory for the edge cases; `extra` is merged over it. */
function directory(extra: Partial<UnitDirectoryInput> = {}): UnitDirectory {
  return UnitDirectorySchema.parse({
    units: [
      { id: 'office', name: '园区依法治区办', kind: 'office' },
      { id: 'jingfa', name: '经发局', aliases: ['经济发展局'], kind: 'department', tags: ['enforcement'] },
      { id: 'caizheng', name: '财政局', kind: 'department' },
      { id: 'old', name: '旧局', kind: 'department', active: false },
      { id: 'town', name: '中川镇', kind: 'town' },
    ],
    ...extra,
  });
}

describe('demo directory and the 2023 seed plan', () => {
  const result = resolvePlanAssignees(SEED, DEMO_UNIT_DIRECTORY);

  it('resolves every one of the 29 work points without problems', () => {
    expect(result.workPoints).toHaveLength(29);
    expect(result.problems).toEqual([]);
    for (const wp of result.workPoints) {
      expect(wp.lead.length).toBeGreaterThan(0);
      expect(wp.responsible.length).toBeGreaterThan(0);
    }
  });

  it('item 1: the office leads; the town, every community and every department are responsible', () => {
    const wp = result.workPoints[0]!;
    expect(names(wp.lead)).toEqual(['园区依法治区办']);
    expect(wp.lead[0]!.via).toEqual([{ kind: 'direct', name: '园区依法治区办' }]);
    expect(names(wp.responsible)).toEqual([
      '中川镇',
      '示例第一中心社区',
      '示例第二中心社区',
      '示例第三中心社区',
      '组织人事局',
      '经发局',
      '市场监管局',
      '综合办',
      '农林水务局',
      '资环局',
      '民政和社保局',
      '应急局',
      '经合局',
      '财政局',
    ]);
    expect(wp.responsible.find((r) => r.unit.name === '财政局')!.via).toEqual([{ kind: 'group', group: '园区各部门' }]);
    expect(names(wp.responsible)).not.toContain('园区依法治区办');
  });

  it('items 5, 8, 17 and 23 use the office’s per-work-point selections', () => {
    const responsible = (n: number): string[] => names(resolveAssignees(seedItem(n), DEMO_UNIT_DIRECTORY).responsible);
    expect(names(resolveAssignees(seedItem(5), DEMO_UNIT_DIRECTORY).lead)).toEqual(['经发局', '市场监管局']);
    expect(responsible(5).slice(4)).toEqual(['资环局', '农林水务局', '应急局', '经合局']);
    expect(responsible(8).slice(4)).toEqual(['经发局', '市场监管局', '综合办', '经合局']);
    expect(responsible(17).slice(4)).toEqual(['综合办', '资环局', '农林水务局', '市场监管局']);
    expect(responsible(23).slice(4)).toEqual(['综合办', '市场监管局', '民政和社保局']);
    const viaGroup = resolveAssignees(seedItem(17), DEMO_UNIT_DIRECTORY).responsible.at(-1)!.via;
    expect(viaGroup).toEqual([{ kind: 'group', group: '园区各相关部门' }]);
  });

  it('items 7 and 24: 园区各行政执法部门 are the departments tagged enforcement', () => {
    const wp7 = resolveAssignees(seedItem(7), DEMO_UNIT_DIRECTORY);
    expect(names(wp7.responsible)).toEqual([
      '综合办',
      '经发局',
      '中川镇',
      '示例第一中心社区',
      '示例第二中心社区',
      '示例第三中心社区',
      '市场监管局',
      '农林水务局',
      '资环局',
      '民政和社保局',
      '应急局',
    ]);
    const wp24 = resolveAssignees(seedItem(24), DEMO_UNIT_DIRECTORY);
    expect(names(wp24.lead)).toEqual(['经发局', '市场监管局']);
    expect(names(wp24.responsible).slice(4)).toEqual(['市场监管局', '农林水务局', '资环局', '民政和社保局', '应急局']);
  });

  it('items 11, 12 and 22 name their units directly', () => {
    const wp11 = resolveAssignees(seedItem(11), DEMO_UNIT_DIRECTORY);
    expect(names(wp11.lead)).toEqual(['农林水务局', '市场监管局', '资环局']);
    expect(names(wp11.responsible)).toEqual([
      '民政和社保局',
      '中川镇',
      '示例第一中心社区',
      '示例第二中心社区',
      '示例第三中心社区',
    ]);
    expect(names(resolveAssignees(seedItem(12), DEMO_UNIT_DIRECTORY).lead)).toEqual(['园区依法治区办', '综合办']);
    const wp22 = resolveAssignees(seedItem(22), DEMO_UNIT_DIRECTORY);
    expect(names(wp22.responsible).slice(0, 5)).toEqual(['经合局', '资环局', '农林水务局', '财政局', '中川镇']);
  });

  it('is clearly demo data: invented communities, log-only contacts, one office', () => {
    expect(officeUnit(DEMO_UNIT_DIRECTORY)!.name).toBe('园区依法治区办');
    const communities = DEMO_UNIT_DIRECTORY.units.filter((u) => u.kind === 'community');
    expect(communities.map((u) => u.name).every((n) => n.startsWith('示例'))).toBe(true);
    for (const u of DEMO_UNIT_DIRECTORY.units) expect(u.contacts).toEqual([{ channel: 'log', address: u.id }]);
  });
});

describe('problems', () => {
  it('reports an unknown unit and still resolves the rest', () => {
    const r = resolveAssignees(
      { number: 3, leadUnits: ['经发局'], responsibleUnits: ['税务局', '中川镇'] },
      directory(),
    );
    expect(names(r.responsible)).toEqual(['中川镇']);
    expect(r.problems).toEqual([
      {
        code: 'UNKNOWN_UNIT',
        message: '目录中没有单位“税务局”：请在单位目录中添加该单位或为已有单位添加别名',
        workPoint: 3,
        role: 'responsible',
        name: '税务局',
      },
    ]);
  });

  it('reports an empty group and says what to add', () => {
    const r = resolveAssignees(
      { number: 1, leadUnits: ['园区依法治区办'], responsibleUnits: ['各中心社区', '园区各行政执法部门'] },
      directory({
        units: [
          { id: 'office', name: '园区依法治区办', kind: 'office' },
          { id: 'caizheng', name: '财政局', kind: 'department' },
        ],
      }),
    );
    expect(r.responsible).toEqual([]);
    expect(r.problems.map((p) => [p.code, p.name, p.message])).toEqual([
      ['EMPTY_GROUP', '各中心社区', '单位组“各中心社区”没有成员：请添加类型为 community 的单位'],
      [
        'EMPTY_GROUP',
        '园区各行政执法部门',
        '单位组“园区各行政执法部门”没有成员：请添加类型为 department 且标签含 enforcement 的单位（或为已有单位添加 enforcement 标签）',
      ],
    ]);
  });

  it('lists a unit named directly and via a group once, with both provenances', () => {
    const r = resolveAssignees(
      { number: 7, leadUnits: ['园区依法治区办'], responsibleUnits: ['经发局', '园区各行政执法部门', '经济发展局'] },
      directory(),
    );
    expect(r.responsible).toHaveLength(1);
    expect(r.responsible[0]!.unit.id).toBe('jingfa');
    expect(r.responsible[0]!.via).toEqual([
      { kind: 'direct', name: '经发局' },
      { kind: 'group', group: '园区各行政执法部门' },
      { kind: 'direct', name: '经济发展局' },
    ]);
    expect(r.problems).toEqual([]);
  });

  it('reports a per-work-point group without a selection for that work point, and uses a default selection', () => {
    const wp = { number: 5, leadUnits: ['经发局'], responsibleUnits: ['园区相关部门'] };
    const none = resolveAssignees(wp, directory({ groupSelections: { 园区相关部门: { '8': ['caizheng'] } } }));
    expect(none.responsible).toEqual([]);
    expect(none.problems).toHaveLength(1);
    expect(none.problems[0]).toMatchObject({ code: 'MISSING_GROUP_SELECTION', workPoint: 5, name: '园区相关部门' });
    expect(none.problems[0]!.message).toContain('第5条的单位组“园区相关部门”尚未选定单位');

    const withDefault = resolveAssignees(
      wp,
      directory({ groupSelections: { 园区相关部门: { default: ['caizheng'] } } }),
    );
    expect(names(withDefault.responsible)).toEqual(['财政局']);
    expect(withDefault.problems).toEqual([]);
  });

  it('excludes inactive units: silently from groups, with a problem when named or selected', () => {
    const all = resolveAssignees({ number: 2, leadUnits: ['旧局'], responsibleUnits: ['园区各部门'] }, directory());
    expect(all.lead).toEqual([]);
    expect(names(all.responsible)).toEqual(['经发局', '财政局']);
    expect(all.problems).toEqual([
      expect.objectContaining({ code: 'INACTIVE_UNIT', role: 'lead', name: '旧局', unitId: 'old' }),
    ]);

    const selected = resolveAssignees(
      { number: 8, leadUnits: ['经发局'], responsibleUnits: ['园区相关部门'] },
      directory({ groupSelections: { 园区相关部门: { '8': ['old'] } } }),
    );
    expect(selected.problems.map((p) => p.code)).toEqual(['INACTIVE_UNIT', 'EMPTY_GROUP']);
  });

  it('matches names regardless of full/half width and whitespace', () => {
    const dir = directory({
      units: [
        { id: 'office', name: '园区依法治区办', kind: 'office' },
        { id: 'wangge', name: 'ABC网格中心(一)', kind: 'community' },
      ],
    });
    expect(findUnitByName(dir, 'ＡＢＣ网格中心（一）')?.id).toBe('wangge');
    expect(findUnitByName(dir, ' 园区依法\u3000治区办 ')?.id).toBe('office');
    expect(normalizeUnitName('园\n区 相关部门')).toBe('园区相关部门');
  });
});

describe('directory schema', () => {
  it('rejects duplicate ids, names shared by two units, bad slugs, group names as units and unknown selections', () => {
    const r = UnitDirectorySchema.safeParse({
      units: [
        { id: 'office', name: '园区依法治区办', kind: 'office' },
        { id: 'a', name: '经发局', kind: 'department' },
        { id: 'a', name: '经济发展局', aliases: ['经发局'], kind: 'department' },
        { id: 'Bad_Id', name: '各中心社区', kind: 'community' },
      ],
      groupSelections: { 园区相关部门: { '5': ['nobody'] }, 园区各部门: { '1': ['a'] } },
    });
    expect(r.success).toBe(false);
    const messages = r.error!.issues.map((i) => i.message).join('\n');
    expect(messages).toMatch(/duplicate unit id "a"/);
    expect(messages).toMatch(/name "经发局" is used by both/);
    expect(messages).toMatch(/lowercase ascii/);
    expect(messages).toMatch(/"各中心社区" is a unit group name/);
    expect(messages).toMatch(/unknown unit id "nobody"/);
    expect(messages).toMatch(/"园区各部门" is not chosen per work point/);
  });

  it('requires exactly one active office; a replaced office stays as an inactive record', () => {
    const r = UnitDirectorySchema.safeParse({ units: [{ id: 'a', name: '经发局', kind: 'department' }] });
    expect(r.error!.issues[0]!.message).toMatch(/exactly one active unit of kind "office"/);
    const replaced = UnitDirectorySchema.safeParse({
      units: [
        { id: 'old-office', name: '原依法治区办', kind: 'office', active: false },
        { id: 'office', name: '园区依法治区办', kind: 'office' },
      ],
    });
    expect(replaced.success).toBe(true);
  });

  it('fills unit defaults', () => {
    expect(UnitSchema.parse({ id: 'x', name: 'X', kind: 'town' })).toEqual({
      id: 'x',
      name: 'X',
      aliases: [],
      kind: 'town',
      tags: [],
      contacts: [],
      active: true,
    });
  });

  it('knows the five groups of the plan', () => {
    expect(Object.keys(UNIT_GROUPS)).toEqual([
      '各中心社区',
      '园区各部门',
      '园区各行政执法部门',
      '园区相关部门',
      '园区各相关部门',
    ]);
  });
});

describe('slugForUnitName', () => {
  it('uses the fixed slug for known units, also for full-width or spaced spellings', () => {
    expect(slugForUnitName('经发局')).toBe('jingfa-ju');
    expect(slugForUnitName(' 园区依法治区办 ')).toBe('yifa-zhiqu-ban');
  });

  it('falls back to u- plus the FNV-1a hash of the normalised name', () => {
    // Reference values of 32-bit FNV-1a.
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('a')).toBe(0xe40c292c);
    expect(fnv1a32('foobar')).toBe(0xbf9cf968);
    const slug = slugForUnitName('税务局');
    expect(slug).toMatch(/^u-[0-9a-f]{8}$/);
    expect(slugForUnitName('税务 局')).toBe(slug);
    expect(slugForUnitName('统计局')).not.toBe(slug);
  });
});
