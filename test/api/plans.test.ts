import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { DEMO_UNIT_DIRECTORY } from '../../domain/demo-directory';
import { parsePlan } from '../../domain/plan-parser';
import { SEED_PLAN_PATH } from '../../launcher/seed';
import { useApiTestContext } from '../helpers/app';

const ctx = useApiTestContext();

const SEED = readFileSync(SEED_PLAN_PATH, 'utf8');
/** The seed with the unit parenthesis of item 1 cut off: the parser reads it but warns that item 1 names no units. */
const SEED_WITHOUT_UNITS_ON_ITEM_1 = SEED.replace(
  '(牵头单位:园区依法治区办;责任单位:中川镇、各中心社区、园区各部门)',
  '',
);

interface Assignees {
  planId: number;
  ok: boolean;
  workPoints: { number: number; lead: AssignedUnit[]; responsible: AssignedUnit[] }[];
  problems: { code: string; message: string; workPoint: number; role: string; name: string }[];
}
type AssignedUnit = { id: string; name: string; via: unknown[] };

async function counts(): Promise<{ plans: number; workPoints: number }> {
  const { rows } = await ctx.db.pool.query<{ plans: string; work_points: string }>(
    'SELECT (SELECT count(*) FROM plans) AS plans, (SELECT count(*) FROM work_points) AS work_points',
  );
  return { plans: Number(rows[0]!.plans), workPoints: Number(rows[0]!.work_points) };
}

function postPlan(app: FastifyInstance, payload: string | object, query = '') {
  return app.inject({
    method: 'POST',
    url: `/api/plans${query}`,
    headers: { ...ctx.admin, 'content-type': typeof payload === 'string' ? 'text/plain' : 'application/json' },
    payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
  });
}

beforeEach(async () => {
  await ctx.db.pool.query('TRUNCATE plans, work_points, units, unit_group_selections CASCADE');
});

describe('POST /api/plans', () => {
  test('the seed as text/plain is stored: 201 with 29 work points in 8 sections and no warnings', async () => {
    const app = await ctx.build();
    const res = await postPlan(app, SEED);
    expect(res.statusCode).toBe(201);
    const body = res.json();
    expect(body).toMatchObject({ stored: true, created: true, id: expect.any(Number), warnings: [] });
    expect(body.plan.year).toBe(2023);
    expect(body.plan.workPoints).toHaveLength(29);
    expect(body.plan.sections).toHaveLength(8);
    expect(await counts()).toEqual({ plans: 1, workPoints: 29 });
  });

  test('the same document again is 200 with created false and the same id; nothing is added', async () => {
    const app = await ctx.build();
    const first = await postPlan(app, SEED);
    const again = await postPlan(app, SEED);
    expect(again.statusCode).toBe(200);
    expect(again.json()).toMatchObject({ stored: true, created: false, id: first.json().id });
    expect(await counts()).toEqual({ plans: 1, workPoints: 29 });
  });

  test('dryRun=true parses and answers but stores nothing', async () => {
    const app = await ctx.build();
    const res = await postPlan(app, SEED, '?dryRun=true');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ stored: false, warnings: [] });
    expect(res.json().plan.workPoints).toHaveLength(29);
    expect(res.json().id).toBeUndefined();
    expect(await counts()).toEqual({ plans: 0, workPoints: 0 });
  });

  test('a misspelt ?dryrun=true is 422 naming it, and stores nothing (it would otherwise import for real)', async () => {
    const app = await ctx.build();
    const res = await postPlan(app, SEED, '?dryrun=true');
    expect(res.statusCode).toBe(422);
    expect(res.json().error).toMatchObject({
      code: 'unknown_field',
      message: expect.stringContaining('unknown field "dryrun" (did you mean "dryRun"?)'),
    });
    expect(await counts()).toEqual({ plans: 0, workPoints: 0 });
  });

  test('an unknown field in the JSON body or inside a structured plan is 422 naming where, and stores nothing', async () => {
    const app = await ctx.build();
    const beside = await postPlan(app, { text: SEED, acceptWarnings: true });
    expect(beside.statusCode).toBe(422);
    expect(beside.json().error.details).toEqual([
      expect.objectContaining({ where: 'body', unknown: ['acceptWarnings'] }),
    ]);
    const plan = parsePlan(SEED).plan!;
    const [first, ...rest] = plan.workPoints;
    const nested = await postPlan(app, {
      plan: { ...plan, workPoints: [{ ...first, leadUnit: ['经发局'] }, ...rest] },
    });
    expect(nested.statusCode).toBe(422);
    expect(nested.json().error).toMatchObject({
      code: 'unknown_field',
      message: expect.stringContaining('body/plan/workPoints/0: 未知字段 "leadUnit"（是否应为 "leadUnits"？）'),
    });
    expect(await counts()).toEqual({ plans: 0, workPoints: 0 });
  });

  test('a document with parser warnings is 422 with the warnings, and nothing is stored', async () => {
    const app = await ctx.build();
    await postPlan(app, SEED);
    const before = await counts();
    const res = await postPlan(app, SEED_WITHOUT_UNITS_ON_ITEM_1);
    expect(res.statusCode).toBe(422);
    const { error } = res.json();
    expect(error.code).toBe('plan_has_warnings');
    expect(error.message).toMatch(/^文档有 1 处无法确定的内容，未保存/);
    expect(error.message).toContain('acceptWarnings=true');
    expect(error.details.warnings).toEqual([
      { line: expect.any(Number), message: expect.stringContaining('没有写明') },
    ]);
    expect(await counts()).toEqual(before);
  });

  test('with acceptWarnings=true the same document is stored together with its warnings', async () => {
    const app = await ctx.build();
    const res = await postPlan(app, SEED_WITHOUT_UNITS_ON_ITEM_1, '?acceptWarnings=true');
    expect(res.statusCode).toBe(201);
    expect(res.json().warnings).toHaveLength(1);
    const list = (await app.inject({ method: 'GET', url: '/api/plans', headers: ctx.viewer })).json();
    expect(list).toEqual([expect.objectContaining({ id: res.json().id, warnings: 1, workPoints: 29 })]);
  });

  test('text without any work point is 422 plan_unreadable, and nothing is stored', async () => {
    const app = await ctx.build();
    for (const garbage of ['lorem ipsum dolor sit amet', '\u0001\u0002binary?', '   \n\n  ']) {
      const res = await postPlan(app, garbage);
      expect(res.statusCode).toBe(422);
      expect(res.json().error.code).toBe('plan_unreadable');
    }
    // NUL cannot be stored in PostgreSQL text at all: refused before parsing.
    const nul = await postPlan(app, '\u0000\u0001binary?');
    expect(nul.statusCode).toBe(400);
    expect(nul.json().error.code).toBe('nul_character');
    expect(await counts()).toEqual({ plans: 0, workPoints: 0 });
  });

  test('an empty body or a JSON object of the wrong shape is 400 in the error shape', async () => {
    const app = await ctx.build();
    const empty = await app.inject({
      method: 'POST',
      url: '/api/plans',
      headers: { ...ctx.admin, 'content-type': 'text/plain' },
    });
    expect(empty.statusCode).toBe(400);
    const wrong = await postPlan(app, { document: SEED });
    expect(wrong.statusCode).toBe(400);
    expect(wrong.json().error).toMatchObject({
      code: 'validation_failed',
      message: expect.stringContaining('{ "text": … } 或 { "plan": … }'),
    });
  });

  test('JSON {text} and JSON {plan} are accepted', async () => {
    const app = await ctx.build();
    const asText = await postPlan(app, { text: SEED });
    expect(asText.statusCode).toBe(201);

    const plan = { ...parsePlan(SEED).plan!, title: '2023年工作要点（结构化导入）' };
    const asPlan = await postPlan(app, { plan });
    expect(asPlan.statusCode).toBe(201);
    expect(asPlan.json()).toMatchObject({ stored: true, created: true, warnings: [] });
    const stored = (
      await app.inject({ method: 'GET', url: `/api/plans/${asPlan.json().id}`, headers: ctx.viewer })
    ).json();
    expect(stored.title).toBe('2023年工作要点（结构化导入）');
    expect(stored.workPoints).toHaveLength(29);
  });

  test('a document that does not say its year is 422 unless ?year= is given', async () => {
    const app = await ctx.build();
    const text = '工作要点\n一、唯一部分\n1. 甲事项。内容。（牵头单位：经发局；责任单位：财政局）';
    const res = await postPlan(app, text, '?acceptWarnings=true');
    expect(res.statusCode).toBe(422);
    expect(res.json().error.code).toBe('plan_year_unknown');
    const withYear = await postPlan(app, text, '?acceptWarnings=true&year=2024');
    expect(withYear.statusCode).toBe(201);
    expect(withYear.json().plan.year).toBe(2024);
  });

  test('a bad query parameter is 400', async () => {
    const app = await ctx.build();
    expect((await postPlan(app, SEED, '?dryRun=yes')).statusCode).toBe(400);
    expect((await postPlan(app, SEED, '?year=1066')).statusCode).toBe(400);
  });
});

describe('GET /api/plans and /api/plans/:id', () => {
  test('lists the imported plans with their counts', async () => {
    const app = await ctx.build();
    expect((await app.inject({ method: 'GET', url: '/api/plans', headers: ctx.viewer })).json()).toEqual([]);
    const id = (await postPlan(app, SEED)).json().id;
    const list = await app.inject({ method: 'GET', url: '/api/plans', headers: ctx.viewer });
    expect(list.statusCode).toBe(200);
    expect(list.json()).toEqual([
      {
        id,
        year: 2023,
        title: '2023年兰州新区中川园区法治政府建设工作要点',
        docNumber: '新中法发〔2023〕2号',
        issuedAt: '2023-05-31',
        workPoints: 29,
        warnings: 0,
        createdAt: expect.any(String),
        derivedFrom: null,
      },
    ]);
  });

  test('one plan with its sections and work points', async () => {
    const app = await ctx.build();
    const id = (await postPlan(app, SEED)).json().id;
    const res = await app.inject({ method: 'GET', url: `/api/plans/${id}`, headers: ctx.viewer });
    expect(res.statusCode).toBe(200);
    const plan = res.json();
    expect(plan).toMatchObject({ id, year: 2023, issuedAt: '2023-05-31', warnings: [] });
    expect(plan.workPoints).toHaveLength(29);
    expect(plan.workPoints[0]).toMatchObject({
      number: 1,
      leadUnits: ['园区依法治区办'],
      responsibleUnits: ['中川镇', '各中心社区', '园区各部门'],
    });
  });

  test('a missing plan is 404; an id that is not a positive integer is 400', async () => {
    const app = await ctx.build();
    const missing = await app.inject({ method: 'GET', url: '/api/plans/999999', headers: ctx.viewer });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error.code).toBe('plan_not_found');
    for (const bad of ['abc', '0', '-1', '1.5', '1e3', '0x10']) {
      const res = await app.inject({ method: 'GET', url: `/api/plans/${bad}`, headers: ctx.viewer });
      expect(res.statusCode).toBe(400);
      expect(res.json().error.code).toBe('validation_failed');
    }
  });
});

describe('GET /api/plans/:id/assignees', () => {
  async function importDirectory(app: FastifyInstance, units = DEMO_UNIT_DIRECTORY.units) {
    const res = await app.inject({
      method: 'PUT',
      url: '/api/units',
      headers: ctx.admin,
      payload: { units, groupSelections: DEMO_UNIT_DIRECTORY.groupSelections },
    });
    expect(res.statusCode).toBe(200);
  }

  test('with the demo directory every unit of the seed resolves, with its provenance', async () => {
    const app = await ctx.build();
    await importDirectory(app);
    const id = (await postPlan(app, SEED)).json().id;
    const res = await app.inject({ method: 'GET', url: `/api/plans/${id}/assignees`, headers: ctx.viewer });
    expect(res.statusCode).toBe(200);
    const body = res.json<Assignees>();
    expect(body).toMatchObject({ planId: id, ok: true, problems: [] });
    expect(body.workPoints).toHaveLength(29);
    for (const wp of body.workPoints) {
      expect(wp.lead.length).toBeGreaterThan(0);
      expect(wp.responsible.length).toBeGreaterThan(0);
    }
    const first = body.workPoints[0]!;
    expect(first.lead).toEqual([{ id: 'yifa-zhiqu-ban', name: '园区依法治区办', via: expect.any(Array) }]);
    // 各中心社区 expands to the three demo communities, each saying it came through the group.
    const communities = first.responsible.filter((u) => u.id.startsWith('demo-community-'));
    expect(communities).toHaveLength(3);
    expect(JSON.stringify(communities[0]!.via)).toContain('各中心社区');
  });

  test('with a directory missing the communities, the problems say what to add', async () => {
    const app = await ctx.build();
    await importDirectory(
      app,
      DEMO_UNIT_DIRECTORY.units.filter((u) => u.kind !== 'community'),
    );
    const id = (await postPlan(app, SEED)).json().id;
    const res = await app.inject({ method: 'GET', url: `/api/plans/${id}/assignees`, headers: ctx.viewer });
    expect(res.statusCode).toBe(200);
    const body = res.json<Assignees>();
    expect(body.ok).toBe(false);
    expect(body.problems.length).toBeGreaterThan(0);
    for (const p of body.problems) {
      expect(p).toMatchObject({ code: 'EMPTY_GROUP', name: '各中心社区', role: 'responsible' });
      expect(p.message).toContain('community');
    }
    expect(body.problems.map((p) => p.workPoint)).toContain(1);
  });

  test('with no directory at all (a fresh install): 422 saying to import the directory first, not a 500', async () => {
    const app = await ctx.build();
    const id = (await postPlan(app, SEED)).json().id;
    const res = await app.inject({ method: 'GET', url: `/api/plans/${id}/assignees`, headers: ctx.viewer });
    expect(res.statusCode).toBe(422);
    expect(res.json().error).toMatchObject({
      code: 'directory_incomplete',
      message: expect.stringContaining('PUT /api/units'),
    });
  });

  test('a missing plan is 404', async () => {
    const app = await ctx.build();
    const res = await app.inject({ method: 'GET', url: '/api/plans/424242/assignees', headers: ctx.viewer });
    expect(res.statusCode).toBe(404);
  });
});
