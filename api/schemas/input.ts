import { z } from 'zod';

/**
 * What every route's request schemas share. Request bodies and query strings are strict: a field the route
 * does not know is refused (422 unknown_field, see api/errors.ts) instead of being dropped, because a dropped
 * field is a silent guess — `unitId` for `unitIds` on remind would remind every unit.
 */

/** Keys longer than this get no suggestion: the edit distance is quadratic in the key length. */
const MAX_SUGGESTED_KEY_LENGTH = 64;
/** At most this many unknown keys are named in one message. */
export const MAX_NAMED_KEYS = 10;

/** Edit distance with adjacent transpositions (optimal string alignment): "yaer" is one edit from "year". */
function editDistance(a: string, b: string): number {
  const rows: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i]);
  const at = (i: number, j: number): number => rows[i]?.[j] ?? Infinity;
  for (let j = 0; j <= b.length; j++) (rows[0] as number[])[j] = j;
  for (let i = 1; i <= a.length; i++) {
    const row = rows[i] as number[];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, at(i - 2, j - 2) + 1);
      row[j] = d;
    }
  }
  return at(a.length, b.length);
}

/** The known key a mistyped one most likely meant: same letters in another case, or one or two edits away. */
export function closestKey(key: string, known: readonly string[]): string | undefined {
  if (key.length > MAX_SUGGESTED_KEY_LENGTH) return undefined;
  let best: { key: string; distance: number } | undefined;
  for (const candidate of known) {
    const distance =
      candidate.toLowerCase() === key.toLowerCase() ? 0 : editDistance(key.toLowerCase(), candidate.toLowerCase());
    if (best === undefined || distance < best.distance) best = { key: candidate, distance };
  }
  const allowed = Math.min(key.length, best?.key.length ?? 0) >= 5 ? 2 : 1;
  return best !== undefined && best.distance <= allowed ? best.key : undefined;
}

/** A key as a message names it: a hostile megabyte-long key is not echoed back whole. */
export const shown = (key: string): string =>
  key.length > MAX_SUGGESTED_KEY_LENGTH ? `${key.slice(0, MAX_SUGGESTED_KEY_LENGTH)}…` : key;

/** `未知字段 "unitId"（是否应为 "unitIds"？） / unknown field "unitId" (did you mean "unitIds"?)` */
export function unknownFieldsMessage(keys: readonly string[], known: readonly string[]): string {
  const named = keys.slice(0, MAX_NAMED_KEYS).map((key) => ({ key: shown(key), hint: closestKey(key, known) }));
  const more = keys.length > MAX_NAMED_KEYS ? keys.length - MAX_NAMED_KEYS : 0;
  const zh = named.map(({ key, hint }) => `"${key}"${hint ? `（是否应为 "${hint}"？）` : ''}`).join('、');
  const en = named.map(({ key, hint }) => `"${key}"${hint ? ` (did you mean "${hint}"?)` : ''}`).join(', ');
  const accepted = known.length > 0 ? known.map((k) => `"${k}"`).join(', ') : 'none';
  return (
    `未知字段 ${zh}${more ? ` 等 ${keys.length} 个` : ''}：请删除或改正后重试 / ` +
    `unknown field${keys.length > 1 ? 's' : ''} ${en}${more ? ` and ${more} more` : ''}; accepted: ${accepted}`
  );
}

function unknownFieldError(issue: z.core.$ZodRawIssue): string | undefined {
  if (issue.code !== 'unrecognized_keys') return undefined;
  const known = issue.inst instanceof z.ZodObject ? Object.keys(issue.inst.shape) : [];
  return unknownFieldsMessage(issue.keys, known);
}

/**
 * z.strictObject whose unknown-key message names the key and the closest accepted one. `.extend()`, `.pick()`
 * and `.omit()` keep both the strictness and the message, which reads the accepted keys of the schema at hand.
 */
export function strictObject<T extends z.ZodRawShape>(shape: T) {
  return z.strictObject(shape, { error: unknownFieldError });
}

/** The query string of a route that takes no parameters: any parameter is refused, e.g. ?dryRun=true on an action. */
export const NoQuery = strictObject({});

/** Digits only, so that "2023.0", "0x7e7" or " 2023" are refused rather than read as 2023. */
const wholeNumber = (what: string, min: number, max: number) =>
  z
    .string()
    .regex(/^\d{1,9}$/, { error: `${what}应为 ${min}–${max} 之间的整数 / expected a whole number ${min}–${max}` })
    .transform(Number)
    .pipe(
      z
        .number()
        .int()
        .min(min, { error: `${what}应为 ${min}–${max} 之间的整数 / expected a whole number ${min}–${max}` })
        .max(max, { error: `${what}应为 ${min}–${max} 之间的整数 / expected a whole number ${min}–${max}` }),
    );

export const MIN_YEAR = 2000;
export const MAX_YEAR = 2100;
export const MAX_WORK_POINT = 999;

/** A cycle year in a path, e.g. /api/cycles/2023. */
export const YearParam = wholeNumber('年度', MIN_YEAR, MAX_YEAR).describe('the cycle year, e.g. 2023');
/** A work point number (第N条) in a path. */
export const WorkPointParam = wholeNumber('要点编号', 1, MAX_WORK_POINT).describe('work point number (第N条)');
