/**
 * The unit directory and the resolution of the names written in a plan (牵头单位 / 责任单位) into
 * concrete units.
 *
 * A plan names units two ways: directly ('经发局') or through a group ('各中心社区', '园区各部门', …).
 * Groups either follow a rule over the directory (kind, tag) or — for '园区相关部门' and
 * '园区各相关部门', whose members depend on the work point — a selection the office makes per work
 * point. Resolution never guesses: every name that cannot be resolved becomes a Problem with a
 * Chinese message saying what to add, so the office can fix the directory before a cycle starts.
 */
import { z } from 'zod';
import { normalizeUnitName } from './unit-names';

export { fnv1a32, KNOWN_UNIT_SLUGS, normalizeUnitName, slugForUnitName } from './unit-names';

// ---------------------------------------------------------------------------------------------
// Schemas

export const UNIT_KINDS = ['office', 'department', 'town', 'community'] as const;
export const UnitKindSchema = z.enum(UNIT_KINDS);
export type UnitKind = z.infer<typeof UnitKindSchema>;

export const UnitIdSchema = z
  .string()
  .regex(/^[a-z0-9]+(?:-[a-z0-9]+)*$/, { message: 'unit id: lowercase ascii letters, digits and single hyphens' })
  .max(64);

export const ContactSchema = z.strictObject({
  channel: z.enum(['email', 'webhook', 'log']),
  /** Email address, webhook URL, or for 'log' any label (the demo uses the unit id). */
  address: z.string().min(1),
});
export type Contact = z.infer<typeof ContactSchema>;

export const UnitSchema = z.strictObject({
  id: UnitIdSchema,
  name: z.string().min(1),
  /** Other names the plan may use for this unit (full name, older name, abbreviation). */
  aliases: z.array(z.string().min(1)).default([]),
  kind: UnitKindSchema,
  /** Free-form labels; 'enforcement' marks an administrative law-enforcement department (行政执法部门). */
  tags: z.array(z.string().min(1)).default([]),
  contacts: z.array(ContactSchema).default([]),
  /** Inactive units stay in the directory for history but receive no new tasks. */
  active: z.boolean().default(true),
});
export type Unit = z.infer<typeof UnitSchema>;
export type UnitInput = z.input<typeof UnitSchema>;

/** The tag that puts a department into 园区各行政执法部门. */
export const ENFORCEMENT_TAG = 'enforcement';

/** How a group named in a plan finds its members. */
export type UnitGroupRule =
  | {
      /** Every active unit of `unitKind` (and with `tag`, if given). */
      readonly type: 'members';
      readonly unitKind: UnitKind;
      readonly tag?: string;
      readonly description: string;
    }
  | {
      /** The units the office selected for the work point (UnitDirectory.groupSelections). */
      readonly type: 'selection';
      readonly description: string;
    };

export const UNIT_GROUPS = {
  各中心社区: { type: 'members', unitKind: 'community', description: '所有在用的中心社区（类型 community）' },
  园区各部门: { type: 'members', unitKind: 'department', description: '所有在用的园区部门（类型 department）' },
  园区各行政执法部门: {
    type: 'members',
    unitKind: 'department',
    tag: ENFORCEMENT_TAG,
    description: `所有在用且标签含 ${ENFORCEMENT_TAG} 的园区部门`,
  },
  园区相关部门: { type: 'selection', description: '由园区依法治区办按要点逐条选定的部门' },
  园区各相关部门: { type: 'selection', description: '由园区依法治区办按要点逐条选定的部门' },
} as const satisfies Record<string, UnitGroupRule>;
export type UnitGroupName = keyof typeof UNIT_GROUPS;

const GROUP_BY_NORMALIZED_NAME = new Map<string, UnitGroupName>(
  (Object.keys(UNIT_GROUPS) as UnitGroupName[]).map((g) => [normalizeUnitName(g), g]),
);

/** The group a plan name refers to, if it is one. */
export function unitGroupNamed(name: string): UnitGroupName | undefined {
  return GROUP_BY_NORMALIZED_NAME.get(normalizeUnitName(name));
}

const SELECTION_GROUPS = (Object.keys(UNIT_GROUPS) as UnitGroupName[]).filter(
  (g) => UNIT_GROUPS[g].type === 'selection',
);

/** The name of the coordinating office; the directory must contain exactly one unit of kind 'office'. */
export const OFFICE_NAME = '园区依法治区办';

/**
 * The directory. `groupSelections[group][workPoint]` lists the unit ids the office chose for a
 * per-work-point group ('园区相关部门', '园区各相关部门'); the key is the work point number as a
 * string (JSON object keys are strings) or 'default', used for work points without their own entry.
 */
export const UnitDirectorySchema = z
  .strictObject({
    units: z.array(UnitSchema),
    groupSelections: z
      .record(z.string(), z.record(z.string().regex(/^(?:[1-9]\d*|default)$/), z.array(UnitIdSchema)))
      .default({}),
  })
  .superRefine((dir, ctx) => {
    const ids = new Set<string>();
    const names = new Map<string, number>(); // normalised name → index of the unit that has it
    dir.units.forEach((u, i) => {
      if (ids.has(u.id))
        ctx.addIssue({ code: 'custom', path: ['units', i, 'id'], message: `duplicate unit id "${u.id}"` });
      ids.add(u.id);
      [u.name, ...u.aliases].forEach((n) => {
        const key = normalizeUnitName(n);
        const owner = names.get(key);
        if (owner !== undefined && owner !== i) {
          ctx.addIssue({
            code: 'custom',
            path: ['units', i],
            message: `name "${n}" is used by both units[${owner}] (${dir.units[owner]?.id}) and units[${i}] (${u.id})`,
          });
        }
        if (unitGroupNamed(n) !== undefined) {
          ctx.addIssue({ code: 'custom', path: ['units', i], message: `"${n}" is a unit group name, not a unit name` });
        }
        names.set(key, i);
      });
    });
    // Inactive offices stay as records (a replaced office is deactivated, never deleted): only active ones count.
    const offices = dir.units.filter((u) => u.kind === 'office' && u.active);
    if (offices.length !== 1) {
      ctx.addIssue({
        code: 'custom',
        path: ['units'],
        message: `the directory needs exactly one active unit of kind "office" (${OFFICE_NAME}), found ${offices.length}`,
      });
    }
    for (const [group, byWorkPoint] of Object.entries(dir.groupSelections)) {
      if (!(SELECTION_GROUPS as string[]).includes(group)) {
        ctx.addIssue({
          code: 'custom',
          path: ['groupSelections', group],
          message: `"${group}" is not chosen per work point; selectable groups: ${SELECTION_GROUPS.join(', ')}`,
        });
      }
      for (const [key, unitIds] of Object.entries(byWorkPoint)) {
        unitIds.forEach((id, i) => {
          if (!ids.has(id)) {
            ctx.addIssue({
              code: 'custom',
              path: ['groupSelections', group, key, i],
              message: `unknown unit id "${id}"`,
            });
          }
        });
      }
    }
  });
export type UnitDirectory = z.infer<typeof UnitDirectorySchema>;
export type UnitDirectoryInput = z.input<typeof UnitDirectorySchema>;

// ---------------------------------------------------------------------------------------------
// Resolution

export type Provenance = { kind: 'direct'; name: string } | { kind: 'group'; group: UnitGroupName };

/** A unit assigned to a work point, with every way it got there (named directly, via a group, or both). */
export interface ResolvedUnit {
  unit: Unit;
  via: Provenance[];
}

export type ProblemCode = 'UNKNOWN_UNIT' | 'INACTIVE_UNIT' | 'EMPTY_GROUP' | 'MISSING_GROUP_SELECTION';

export interface Problem {
  code: ProblemCode;
  /** What is wrong and what to do, in Chinese, for the office. */
  message: string;
  workPoint: number;
  role: 'lead' | 'responsible';
  /** The name as written in the plan (for groups: the group name). */
  name: string;
  /** The unit involved, when there is one (inactive units, selections naming an inactive unit). */
  unitId?: string;
}

/** The part of a work point that resolution needs; the parser's WorkPoint fits it. */
export interface WorkPointUnits {
  number: number;
  leadUnits: readonly string[];
  responsibleUnits: readonly string[];
}

export interface Assignees {
  lead: ResolvedUnit[];
  responsible: ResolvedUnit[];
  problems: Problem[];
}

/** A directory with its name index built once, for resolving a whole plan. */
interface IndexedDirectory {
  directory: UnitDirectory;
  byName: Map<string, Unit>;
  byId: Map<string, Unit>;
}

function indexDirectory(directory: UnitDirectory): IndexedDirectory {
  const byName = new Map<string, Unit>();
  const byId = new Map<string, Unit>();
  for (const u of directory.units) {
    byId.set(u.id, u);
    for (const n of [u.name, ...u.aliases]) byName.set(normalizeUnitName(n), u);
  }
  return { directory, byName, byId };
}

/** The unit whose name or alias matches `name` (after normalisation), active or not. */
export function findUnitByName(directory: UnitDirectory, name: string): Unit | undefined {
  const key = normalizeUnitName(name);
  return directory.units.find((u) => [u.name, ...u.aliases].some((n) => normalizeUnitName(n) === key));
}

/** The coordinating office (the one unit of kind 'office'). */
export function officeUnit(directory: UnitDirectory): Unit | undefined {
  return directory.units.find((u) => u.kind === 'office' && u.active);
}

function sameProvenance(a: Provenance, b: Provenance): boolean {
  return a.kind === 'direct' ? b.kind === 'direct' && a.name === b.name : b.kind === 'group' && a.group === b.group;
}

function emptyGroupMessage(group: UnitGroupName): string {
  const rule: UnitGroupRule = UNIT_GROUPS[group];
  if (rule.type === 'selection') return `单位组“${group}”没有选定任何在用单位`;
  const what =
    rule.tag === undefined
      ? `类型为 ${rule.unitKind} 的单位`
      : `类型为 ${rule.unitKind} 且标签含 ${rule.tag} 的单位（或为已有单位添加 ${rule.tag} 标签）`;
  return `单位组“${group}”没有成员：请添加${what}`;
}

function resolveList(
  names: readonly string[],
  workPoint: number,
  role: Problem['role'],
  idx: IndexedDirectory,
  problems: Problem[],
): ResolvedUnit[] {
  const resolved: ResolvedUnit[] = [];
  const add = (unit: Unit, via: Provenance): void => {
    const existing = resolved.find((r) => r.unit.id === unit.id);
    if (!existing) resolved.push({ unit, via: [via] });
    else if (!existing.via.some((v) => sameProvenance(v, via))) existing.via.push(via);
  };
  const problem = (code: ProblemCode, name: string, message: string, unitId?: string): void => {
    problems.push({ code, message, workPoint, role, name, ...(unitId === undefined ? {} : { unitId }) });
  };

  for (const name of names) {
    const group = unitGroupNamed(name);
    if (group === undefined) {
      const unit = idx.byName.get(normalizeUnitName(name));
      if (!unit) {
        problem('UNKNOWN_UNIT', name, `目录中没有单位“${name}”：请在单位目录中添加该单位或为已有单位添加别名`);
      } else if (!unit.active) {
        problem(
          'INACTIVE_UNIT',
          name,
          `单位“${unit.name}”已停用：请启用该单位，或修改第${workPoint}条的单位名单`,
          unit.id,
        );
      } else {
        add(unit, { kind: 'direct', name });
      }
      continue;
    }

    const rule: UnitGroupRule = UNIT_GROUPS[group];
    let members: Unit[];
    if (rule.type === 'members') {
      members = idx.directory.units.filter(
        (u) => u.active && u.kind === rule.unitKind && (rule.tag === undefined || u.tags.includes(rule.tag)),
      );
    } else {
      const selections = idx.directory.groupSelections[group];
      const chosen = selections?.[String(workPoint)] ?? selections?.['default'];
      if (chosen === undefined) {
        problem(
          'MISSING_GROUP_SELECTION',
          group,
          `第${workPoint}条的单位组“${group}”尚未选定单位：请园区依法治区办在单位目录中为第${workPoint}条选择具体部门（或设置默认选择）`,
        );
        continue;
      }
      members = [];
      for (const id of chosen) {
        const unit = idx.byId.get(id);
        if (!unit) {
          problem(
            'UNKNOWN_UNIT',
            group,
            `单位组“${group}”为第${workPoint}条选定的单位“${id}”不在目录中：请修改选择或添加该单位`,
            id,
          );
        } else if (!unit.active) {
          problem(
            'INACTIVE_UNIT',
            group,
            `单位组“${group}”为第${workPoint}条选定的单位“${unit.name}”已停用：请修改选择或启用该单位`,
            id,
          );
        } else {
          members.push(unit);
        }
      }
    }
    if (members.length === 0) {
      problem('EMPTY_GROUP', group, emptyGroupMessage(group));
      continue;
    }
    for (const unit of members) add(unit, { kind: 'group', group });
  }
  return resolved;
}

function resolveIndexed(workPoint: WorkPointUnits, idx: IndexedDirectory): Assignees {
  const problems: Problem[] = [];
  const lead = resolveList(workPoint.leadUnits, workPoint.number, 'lead', idx, problems);
  const responsible = resolveList(workPoint.responsibleUnits, workPoint.number, 'responsible', idx, problems);
  return { lead, responsible, problems };
}

/**
 * Resolves a work point's lead and responsible names into units. Each unit appears at most once per
 * list, with all its provenances; inactive units never appear. Problems do not stop resolution: the
 * rest of the work point still resolves, so one missing alias does not hide the other issues.
 */
export function resolveAssignees(workPoint: WorkPointUnits, directory: UnitDirectory): Assignees {
  return resolveIndexed(workPoint, indexDirectory(directory));
}

export interface PlanAssignees {
  workPoints: (Assignees & { number: number })[];
  /** Every problem of every work point, in work point order. */
  problems: Problem[];
}

/** resolveAssignees for every work point of a plan. */
export function resolvePlanAssignees(workPoints: readonly WorkPointUnits[], directory: UnitDirectory): PlanAssignees {
  const idx = indexDirectory(directory);
  const resolved = workPoints.map((wp) => ({ number: wp.number, ...resolveIndexed(wp, idx) }));
  return { workPoints: resolved, problems: resolved.flatMap((r) => r.problems) };
}
