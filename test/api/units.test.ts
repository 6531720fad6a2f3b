import type { FastifyInstance } from 'fastify';
import { DEMO_UNIT_DIRECTORY } from '../../domain/demo-directory';
import { useApiTestContext } from '../helpers/app';

const ctx = useApiTestContext();

interface DirectoryView {
  units: { id: string; name: string; active: boolean; demo: boolean; contacts: unknown[] }[];
  groups: { name: string }[];
  groupSelections: Record<string, Record<string, string[]>>;
  upserted?: number;
  deactivated?: string[];
}

const demoBody = () => ({ units: DEMO_UNIT_DIRECTORY.units, groupSelections: DEMO_UNIT_DIRECTORY.groupSelections });

/** The units table and the selections, as stored, to prove that a refused import changed nothing. */
async function snapshot(): Promise<unknown> {
  const units = await ctx.db.pool.query('SELECT * FROM units ORDER BY id');
  const selections = await ctx.db.pool.query('SELECT * FROM unit_group_selections ORDER BY group_name, work_point');
  return { units: units.rows, selections: selections.rows };
}

async function reset(): Promise<void> {
  await ctx.db.pool.query('TRUNCATE units, unit_group_selections');
}

async function putUnits(app: FastifyInstance, payload: unknown, contentType = 'application/json') {
  return app.inject({
    method: 'PUT',
    url: '/api/units',
    headers: { ...ctx.admin, 'content-type': contentType },
    payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
  });
}

const groupUrl = (name: string) => `/api/units/groups/${encodeURIComponent(name)}`;

beforeEach(reset);

describe('GET /api/units', () => {
  test('an empty directory (a fresh install) is an empty list with the groups, not an error', async () => {
    const app = await ctx.build();
    const res = await app.inject({ method: 'GET', url: '/api/units', headers: ctx.viewer });
    expect(res.statusCode).toBe(200);
    const body = res.json<DirectoryView>();
    expect(body.units).toEqual([]);
    expect(body.groupSelections).toEqual({});
    expect(body.groups.map((g) => g.name).sort()).toEqual(
      ['园区各部门', '园区各相关部门', '园区各行政执法部门', '园区相关部门', '各中心社区'].sort(),
    );
  });
});

describe('PUT /api/units', () => {
  test('imports the demo directory as JSON: every unit stored, active, with its group selections', async () => {
    const app = await ctx.build();
    const res = await putUnits(app, demoBody());
    expect(res.statusCode).toBe(200);
    const body = res.json<DirectoryView>();
    expect(body.upserted).toBe(DEMO_UNIT_DIRECTORY.units.length);
    expect(body.deactivated).toEqual([]);
    expect(body.units).toHaveLength(DEMO_UNIT_DIRECTORY.units.length);
    expect(body.units.every((u) => u.active && !u.demo)).toBe(true);
    expect(body.groupSelections).toEqual(DEMO_UNIT_DIRECTORY.groupSelections);

    const get = (await app.inject({ method: 'GET', url: '/api/units', headers: ctx.viewer })).json<DirectoryView>();
    expect(get.units.map((u) => u.id).sort()).toEqual(DEMO_UNIT_DIRECTORY.units.map((u) => u.id).sort());
  });

  test('imports YAML; a unit without an id gets the slug of its name', async () => {
    const app = await ctx.build();
    const yaml = [
      'units:',
      '  - name: 园区依法治区办',
      '    kind: office',
      '    aliases: [依法治区办]',
      '  - name: 经发局',
      '    kind: department',
      '    contacts:',
      '      - { channel: email, address: jfj@example.org }',
      '  - id: town-a',
      '    name: 中川镇',
      '    kind: town',
      '',
    ].join('\n');
    const res = await putUnits(app, yaml, 'application/yaml');
    expect(res.statusCode).toBe(200);
    const units = res.json().units as { id: string; name: string; contacts: unknown[] }[];
    expect(units.map((u) => u.id).sort()).toEqual(['jingfa-ju', 'town-a', 'yifa-zhiqu-ban'].sort());
    expect(units.find((u) => u.name === '经发局')?.contacts).toEqual([
      { channel: 'email', address: 'jfj@example.org' },
    ]);
  });

  test('an invalid directory is 422 naming where each problem is, and nothing changes', async () => {
    const app = await ctx.build();
    expect((await putUnits(app, demoBody())).statusCode).toBe(200);
    const before = await snapshot();

    const broken = {
      units: [
        ...DEMO_UNIT_DIRECTORY.units.filter((u) => u.name !== '经发局'),
        { id: 'second-office', name: '第二个办公室', kind: 'office' },
        { id: 'Bad Id', name: '坏编号局', kind: 'department' },
        { name: '未知类型局', kind: 'bureau' },
      ],
    };
    const res = await putUnits(app, broken);
    expect(res.statusCode).toBe(422);
    const body = res.json();
    expect(body.error.code).toBe('directory_invalid');
    expect(body.error.message).toMatch(/^单位目录有 \d+ 处错误，未做任何修改/);
    const where = (body.error.details as { where: string }[]).map((d) => d.where);
    expect(where).toEqual(['units.15.id', 'units.16.kind']);
    expect(await snapshot()).toEqual(before);
  });

  test('a misspelt field, at the top or inside a unit, is 422 naming where it is, and nothing changes', async () => {
    const app = await ctx.build();
    expect((await putUnits(app, demoBody())).statusCode).toBe(200);
    const before = await snapshot();
    const [first, ...rest] = DEMO_UNIT_DIRECTORY.units;
    const inUnit = await putUnits(app, { ...demoBody(), units: [{ ...first, contact: [] }, ...rest] });
    expect(inUnit.statusCode).toBe(422);
    expect(inUnit.json().error).toMatchObject({
      code: 'directory_invalid',
      details: [{ where: 'units.0', message: expect.stringContaining('"contact"') }],
    });
    const topLevel = await putUnits(app, { ...demoBody(), groupSelection: {} }, 'application/yaml');
    expect(topLevel.statusCode).toBe(422);
    expect(topLevel.json().error.message).toContain('"groupSelection"');
    expect(await snapshot()).toEqual(before);
  });

  test('unreadable YAML is 400; a body that is not an object is 422; nothing changes', async () => {
    const app = await ctx.build();
    expect((await putUnits(app, demoBody())).statusCode).toBe(200);
    const before = await snapshot();
    const unreadable = await putUnits(app, 'units: [unclosed', 'application/yaml');
    expect(unreadable.statusCode).toBe(400);
    expect(unreadable.json().error.code).toBe('directory_unreadable');
    const scalar = await putUnits(app, 'just words', 'text/plain');
    expect(scalar.statusCode).toBe(422);
    expect(await snapshot()).toEqual(before);
  });

  test('units missing from an import are deactivated, not deleted, and come back when imported again', async () => {
    const app = await ctx.build();
    expect((await putUnits(app, demoBody())).statusCode).toBe(200);
    const without = DEMO_UNIT_DIRECTORY.units.filter((u) => u.kind !== 'community');
    const res = await putUnits(app, { units: without, groupSelections: DEMO_UNIT_DIRECTORY.groupSelections });
    expect(res.statusCode).toBe(200);
    const communities = DEMO_UNIT_DIRECTORY.units.filter((u) => u.kind === 'community').map((u) => u.id);
    expect(res.json<DirectoryView>().deactivated?.sort()).toEqual([...communities].sort());
    const units = res.json().units as { id: string; active: boolean }[];
    expect(units).toHaveLength(DEMO_UNIT_DIRECTORY.units.length);
    expect(
      units
        .filter((u) => !u.active)
        .map((u) => u.id)
        .sort(),
    ).toEqual([...communities].sort());

    const again = await putUnits(app, demoBody());
    expect(again.json<DirectoryView>().units.every((u) => u.active)).toBe(true);
  });

  test('a new unit reusing the name of a deactivated one is refused with 422, not a 500, and nothing changes', async () => {
    const app = await ctx.build();
    expect((await putUnits(app, demoBody())).statusCode).toBe(200);
    const before = await snapshot();
    const renamed = DEMO_UNIT_DIRECTORY.units.map((u) => (u.name === '经发局' ? { ...u, id: 'jingji-fazhan-ju' } : u));
    const res = await putUnits(app, { units: renamed });
    expect(res.statusCode).toBe(422);
    expect(res.json().error.message).toContain('经发局');
    expect(await snapshot()).toEqual(before);
  });

  test('a viewer may not import', async () => {
    const app = await ctx.build();
    const res = await app.inject({ method: 'PUT', url: '/api/units', headers: ctx.viewer, payload: demoBody() });
    expect(res.statusCode).toBe(403);
    expect(await snapshot()).toEqual({ units: [], selections: [] });
  });
});

describe('PUT /api/units/groups/:name', () => {
  beforeEach(async () => {
    const app = await ctx.build();
    expect((await putUnits(app, demoBody())).statusCode).toBe(200);
  });

  test('sets the units of a selection group for one work point and as the default', async () => {
    const app = await ctx.build();
    const res = await app.inject({
      method: 'PUT',
      url: groupUrl('园区相关部门'),
      headers: ctx.admin,
      payload: { workPoint: 12, unitIds: ['jingfa-ju', 'caizheng-ju', 'jingfa-ju'] },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json().groupSelections['园区相关部门']['12']).toEqual(['jingfa-ju', 'caizheng-ju']);

    const def = await app.inject({
      method: 'PUT',
      url: groupUrl('园区各相关部门'),
      headers: ctx.admin,
      payload: { workPoint: 'default', unitIds: ['zonghe-ban'] },
    });
    expect(def.statusCode).toBe(200);
    expect(def.json().groupSelections['园区各相关部门']).toMatchObject({ default: ['zonghe-ban'] });
  });

  test('a rule group cannot be chosen per work point: 422', async () => {
    const app = await ctx.build();
    const res = await app.inject({
      method: 'PUT',
      url: groupUrl('各中心社区'),
      headers: ctx.admin,
      payload: { workPoint: 1, unitIds: ['zonghe-ban'] },
    });
    expect(res.statusCode).toBe(422);
    expect(res.json().error.code).toBe('group_not_selectable');
  });

  test('an unknown group is 404 naming the groups there are', async () => {
    const app = await ctx.build();
    const res = await app.inject({
      method: 'PUT',
      url: groupUrl('园区全部门'),
      headers: ctx.admin,
      payload: { workPoint: 1, unitIds: ['zonghe-ban'] },
    });
    expect(res.statusCode).toBe(404);
    expect(res.json().error).toMatchObject({
      code: 'group_not_found',
      message: expect.stringContaining('园区相关部门'),
    });
  });

  test('an unknown or deactivated unit is 422 naming it, and the selection is unchanged', async () => {
    const app = await ctx.build();
    await app.inject({
      method: 'PUT',
      url: '/api/units',
      headers: ctx.admin,
      payload: { units: DEMO_UNIT_DIRECTORY.units.filter((u) => u.id !== 'caizheng-ju') },
    });
    const before = await snapshot();
    const res = await app.inject({
      method: 'PUT',
      url: groupUrl('园区相关部门'),
      headers: ctx.admin,
      payload: { workPoint: 5, unitIds: ['jingfa-ju', 'no-such-ju', 'caizheng-ju'] },
    });
    expect(res.statusCode).toBe(422);
    expect(res.json().error).toMatchObject({
      code: 'unknown_units',
      details: { unknown: ['no-such-ju', 'caizheng-ju'] },
    });
    expect(await snapshot()).toEqual(before);
  });

  test('a malformed selection is 400', async () => {
    const app = await ctx.build();
    const res = await app.inject({
      method: 'PUT',
      url: groupUrl('园区相关部门'),
      headers: ctx.admin,
      payload: { workPoint: 0, unitIds: 'jingfa-ju' },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe('validation_failed');
    // Past PostgreSQL's integer: a 400, not a database error.
    const huge = await app.inject({
      method: 'PUT',
      url: groupUrl('园区相关部门'),
      headers: ctx.admin,
      payload: { workPoint: 99_999_999_999, unitIds: [] },
    });
    expect(huge.statusCode).toBe(400);
  });

  test('an unknown field (unitId for unitIds) is 422 naming it, and the selection is unchanged', async () => {
    const app = await ctx.build();
    const before = await snapshot();
    const res = await app.inject({
      method: 'PUT',
      url: groupUrl('园区相关部门'),
      headers: ctx.admin,
      payload: { workPoint: 3, unitIds: [], unitId: 'jingfa-ju' },
    });
    expect(res.statusCode).toBe(422);
    expect(res.json().error).toMatchObject({
      code: 'unknown_field',
      message: expect.stringContaining('unknown field "unitId" (did you mean "unitIds"?)'),
    });
    expect(await snapshot()).toEqual(before);
  });
});
