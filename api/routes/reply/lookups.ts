import type { Pool } from 'pg';
import { isDrillOptions } from '../../../db/cycles-repo';
import { getWorkPoint } from '../../../db/replies-repo';
import { cycleSchedule } from '../../../domain/cycle-schedule';
import type { CycleSchedule } from '../../../domain/model';

/**
 * The reply path's per-process cache: only values that never change for their key. Nothing needs invalidating, and a
 * second API process on the same database holds the same values or none: no entry can go stale.
 * - a cycle's schedule and drill flag, keyed by year + the stored options as PostgreSQL prints the jsonb (one spelling
 *   per value): a drill started again or a cycle restarted with other options is another key, and the cycle row
 *   itself is read fresh on every request (db/replies-repo getReplyState);
 * - a work point's number, section, title and text, keyed by plan id + number: written with the plan and never
 *   updated (a copy is a new plan id; ids are never reused).
 * Read fresh, in one statement, because they change while a cycle runs: the cycle row (drill cancelled, restart,
 * finished_at set by the worker), the unit (PUT /api/units), the obligation (extend, add / remove / reassign, waive…)
 * and the recorded assignment. Receipts are read fresh too (a repeated form counts once). A reply link has no
 * server-side state: its signature and expiry are checked on every request, then the fresh rows above.
 */

export interface WorkPointText {
  number: number;
  section: string | null;
  title: string;
  text: string;
}

export interface CycleFacts {
  schedule: CycleSchedule;
  drill: boolean;
}

export interface ReplyLookups {
  /** The schedule and drill flag of a cycle's stored options; throws as cycleSchedule does (never cached then). */
  cycle(year: number, optionsText: string): CycleFacts;
  workPoint(planId: number, number: number): Promise<WorkPointText | undefined>;
}

/** A Map that forgets its least recently used entry beyond `max`. */
class BoundedMap<K, V> {
  private readonly entries = new Map<K, V>();
  constructor(private readonly max: number) {}

  get(key: K): V | undefined {
    const value = this.entries.get(key);
    if (value !== undefined) {
      this.entries.delete(key);
      this.entries.set(key, value);
    }
    return value;
  }

  set(key: K, value: V): void {
    this.entries.delete(key);
    this.entries.set(key, value);
    if (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value as K);
  }

  /** Forgets `key` only while it still holds `value` (a newer entry under the same key stays). */
  forget(key: K, value: V): void {
    if (this.entries.get(key) === value) this.entries.delete(key);
  }
}

/** Shared by every request that hits the entry: frozen, so no request can change what the next one reads. */
function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** Bounds: a year has one options text at a time; a district's plans have tens of work points, a big bench 1,000s. */
export const CACHE_LIMITS = { cycles: 64, workPoints: 4096 };

export function createReplyLookups(db: Pool, limits = CACHE_LIMITS): ReplyLookups {
  const cycles = new BoundedMap<string, CycleFacts>(limits.cycles);
  // Promises, so that a burst of first openings of one work point (a notice reaching 200 units at once) reads it once.
  const workPoints = new BoundedMap<string, Promise<WorkPointText | undefined>>(limits.workPoints);
  return {
    cycle(year, optionsText) {
      const key = `${year}\u0000${optionsText}`;
      let facts = cycles.get(key);
      if (!facts) {
        const options: unknown = JSON.parse(optionsText);
        facts = deepFreeze({ schedule: cycleSchedule(year, options), drill: isDrillOptions(options) });
        cycles.set(key, facts);
      }
      return facts;
    },
    workPoint(planId, number) {
      const key = `${planId}:${number}`;
      const cached = workPoints.get(key);
      if (cached) return cached;
      const found: Promise<WorkPointText | undefined> = getWorkPoint(db, planId, number).then((wp) => {
        // Only rows are kept: a missing one is looked up again, and so is one whose query failed (below).
        if (!wp) workPoints.forget(key, found);
        return wp && deepFreeze({ number: wp.number, section: wp.section, title: wp.title, text: wp.text });
      });
      found.catch(() => workPoints.forget(key, found));
      workPoints.set(key, found);
      return found;
    },
  };
}
