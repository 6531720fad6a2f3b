import { z } from 'zod';
import YAML from 'yaml';
import { DatabaseError } from 'pg';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import {
  ContactSchema,
  slugForUnitName,
  UNIT_GROUPS,
  UnitDirectorySchema,
  UnitKindSchema,
  unitGroupNamed,
} from '../../domain/units';
import { importDirectory, listUnits, setGroupSelection } from '../../db/units-repo';
import { listGroupSelections } from '../../db/units-repo';
import { DomainError, errorResponses } from '../errors';
import { tooDeep, yamlNestingExceeds } from '../input-limits';
import { MAX_WORK_POINT, NoQuery, strictObject } from '../schemas/input';

const StoredUnitSchema = z.object({
  id: z.string(),
  name: z.string(),
  aliases: z.array(z.string()),
  kind: UnitKindSchema,
  tags: z.array(z.string()),
  contacts: z.array(ContactSchema),
  active: z.boolean(),
  demo: z.boolean().describe('true for the demo directory that npm start loads'),
});

const DirectoryViewSchema = z.object({
  units: z.array(StoredUnitSchema),
  groups: z.array(z.object({ name: z.string(), type: z.enum(['members', 'selection']), description: z.string() })),
  groupSelections: z.record(z.string(), z.record(z.string(), z.array(z.string()))),
});

const ImportBodySchema = z.union([
  z.string().min(1).describe('YAML (Content-Type: application/yaml) or JSON text of { units, groupSelections }'),
  z
    .record(z.string(), z.unknown())
    .describe('{ units: Unit[], groupSelections?: { group: { "<n>"|"default": unitId[] } } }'),
]);

const GroupSelectionBodySchema = strictObject({
  workPoint: z
    .union([z.number().int().positive().max(MAX_WORK_POINT), z.literal('default')])
    .describe('work point number, or "default"'),
  unitIds: z.array(z.string().min(1)).describe('the units the office chooses for this group and work point'),
});

/** A directory needs few aliases if any; the limit stops an alias bomb (billion laughs) before it expands. */
const MAX_YAML_ALIASES = 50;

function parseDirectoryText(text: string): unknown {
  if (yamlNestingExceeds(text)) throw tooDeep('YAML');
  try {
    return YAML.parse(text, { maxAliasCount: MAX_YAML_ALIASES }) as unknown;
  } catch (err) {
    throw new DomainError(
      400,
      'directory_unreadable',
      `无法读取 YAML/JSON：${err instanceof Error ? err.message : String(err)}`,
    );
  }
}

/** Office staff rarely know slugs: a unit without an id gets the stable slug of its name. */
function withIds(raw: unknown): unknown {
  if (!raw || typeof raw !== 'object' || !Array.isArray((raw as { units?: unknown }).units)) return raw;
  const dir = raw as { units: unknown[] };
  return {
    ...dir,
    units: dir.units.map((u) =>
      u && typeof u === 'object' && !('id' in u) && typeof (u as { name?: unknown }).name === 'string'
        ? { id: slugForUnitName((u as { name: string }).name), ...u }
        : u,
    ),
  };
}

const units: FastifyPluginAsyncZod = async (app) => {
  app.addContentTypeParser(
    ['application/yaml', 'application/x-yaml', 'text/yaml'],
    { parseAs: 'string' },
    (_req, body, done) => done(null, body),
  );

  const directoryView = async () => {
    const [all, groupSelections] = await Promise.all([listUnits(app.db), listGroupSelections(app.db)]);
    return {
      units: all,
      groups: Object.entries(UNIT_GROUPS).map(([name, rule]) => ({
        name,
        type: rule.type,
        description: rule.description,
      })),
      groupSelections,
    };
  };

  app.get(
    '/api/units',
    {
      schema: {
        tags: ['units'],
        summary: 'The unit directory (单位目录), the groups and the per-work-point group selections',
        querystring: NoQuery,
        response: { 200: DirectoryViewSchema, ...errorResponses },
      },
    },
    directoryView,
  );

  app.put(
    '/api/units',
    {
      schema: {
        tags: ['units'],
        summary: 'Bulk import of the unit directory (JSON or YAML)',
        description:
          'Every unit given is created or updated; units missing from the import are deactivated, never deleted ' +
          '(import them again to undo). The whole import is validated first: on any error nothing changes.',
        querystring: NoQuery,
        body: ImportBodySchema,
        response: {
          200: DirectoryViewSchema.extend({ upserted: z.number().int(), deactivated: z.array(z.string()) }),
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const raw = typeof request.body === 'string' ? parseDirectoryText(request.body) : request.body;
      const parsed = UnitDirectorySchema.safeParse(withIds(raw));
      if (!parsed.success) {
        const issues = parsed.error.issues.map((i) => ({ where: i.path.join('.'), message: i.message }));
        throw new DomainError(
          422,
          'directory_invalid',
          `单位目录有 ${issues.length} 处错误，未做任何修改：${issues
            .slice(0, 5)
            .map((i) => `${i.where}: ${i.message}`)
            .join('；')}`,
          issues,
        );
      }
      const result = await importDirectory(app.db, parsed.data).catch((err: unknown) => {
        // Names are unique across all stored units, deactivated ones included; the import rolled back.
        if (err instanceof DatabaseError && err.code === '23505') {
          throw new DomainError(
            422,
            'directory_conflict',
            `单位目录与已存的单位冲突，未做任何修改：${err.detail ?? err.message}。单位名称不能重复（含已停用的单位），请沿用原单位的编号 / ` +
              "the import conflicts with a stored unit (names are unique, deactivated units included): keep that unit's id",
          );
        }
        throw err;
      });
      return { ...(await directoryView()), ...result };
    },
  );

  app.put(
    '/api/units/groups/:name',
    {
      schema: {
        tags: ['units'],
        summary: 'Choose the units of a per-work-point group (园区相关部门, 园区各相关部门)',
        params: z.object({ name: z.string().min(1) }),
        querystring: NoQuery,
        body: GroupSelectionBodySchema,
        response: { 200: DirectoryViewSchema, ...errorResponses },
      },
    },
    async (request) => {
      const group = unitGroupNamed(request.params.name);
      if (!group) {
        throw new DomainError(
          404,
          'group_not_found',
          `没有单位组“${request.params.name}”；可选：${Object.keys(UNIT_GROUPS).join('、')}`,
        );
      }
      if (UNIT_GROUPS[group].type !== 'selection') {
        throw new DomainError(
          422,
          'group_not_selectable',
          `单位组“${group}”按规则自动确定成员（${UNIT_GROUPS[group].description}），不能逐条选定；请在单位目录中调整单位的类型或标签`,
        );
      }
      const known = new Set((await listUnits(app.db)).filter((u) => u.active).map((u) => u.id));
      const unknown = request.body.unitIds.filter((id) => !known.has(id));
      if (unknown.length > 0) {
        throw new DomainError(422, 'unknown_units', `单位目录中没有（或已停用）这些单位：${unknown.join('、')}`, {
          unknown,
        });
      }
      const wp = request.body.workPoint === 'default' ? 0 : request.body.workPoint;
      await setGroupSelection(app.db, group, wp, [...new Set(request.body.unitIds)]);
      return directoryView();
    },
  );
};

export default units;
