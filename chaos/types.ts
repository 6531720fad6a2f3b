import type { HttpClient } from '../bench/measure';
import type { Stack } from '../bench/stack';

/** The drill's options and results, and what its parts (departments, faults, verification) share. */

export type FaultType = 'worker' | 'temporal' | 'postgres' | 'api';
export const FAULT_TYPES: readonly FaultType[] = ['worker', 'temporal', 'postgres', 'api'];

export interface ChaosOptions {
  faults: number;
  faultTypes?: readonly FaultType[];
  workPoints: number;
  unitsPerWorkPoint: number;
  /** Seconds from the cycle's start to the due instant, and the escalations after it. */
  dueS: number;
  leadS: number;
  officeS: number;
  seed: number;
  /** Upper bound on waiting for the system to settle after the drill, seconds. */
  settleS: number;
  adminDatabaseUrl?: string;
  databaseName?: string;
  keep?: boolean;
  log?: (msg: string) => void;
}

export const DEFAULT_CHAOS_OPTIONS: ChaosOptions = {
  faults: 12,
  workPoints: 3,
  unitsPerWorkPoint: 5,
  dueS: 40,
  leadS: 10,
  officeS: 20,
  seed: 1,
  settleS: 120,
};

export interface FaultRecord {
  type: FaultType;
  /** Seconds after the cycle started. */
  at: number;
  /** How long the part was away, or for PostgreSQL how many connections were cut. */
  detail: string;
}

export interface ChaosResult {
  faults: FaultRecord[];
  /** Distinct submission ids answered 200 "已收到". */
  reports: number;
  lost: string[];
  duplicated: string[];
  violations: string[];
  notes: string[];
  stats: Record<string, number>;
  line: string;
}

export type Behaviour = 'on-time' | 'late' | 'never';
/**
 * How an on-time department submits: twice at once (a double click), again after the receipt (back button),
 * once plus a correction, or 'interrupted': the API signalled the workflow and died before it wrote the
 * receipt, so the person submits the same form again and the workflow sees the submission id twice. The
 * chaos faults make that last case happen by chance; this variant makes it happen every run.
 */
export type Variant = 'double' | 'repeat' | 'correct' | 'interrupted' | 'single';

export interface Department {
  wp: number;
  unitId: string;
  unitName: string;
  behaviour: Behaviour;
  variant: Variant;
  /** When it acts (epoch ms), and whether it opens the page first (签收). */
  submitAt: number;
  opensPage: boolean;
  token: string;
  /** Submission ids answered 200 "已收到", and when the first answer came (epoch ms). */
  accepted: Set<string>;
  firstAcceptedAt?: number;
  /** Every submission id sent at least once. */
  attempted: Set<string>;
}

export const LEAD_NAMES = ['经发局'];
export const EXTRA_LEAD_NAME = '财政局';
export const OFFICE_NAME = '园区依法治区办';

export interface Assignment {
  wp: number;
  units: { id: string; name: string }[];
  leads: string[];
}

/** One running drill: the stack, its options, the cycle's year and instants (epoch ms). */
export interface Drill {
  stack: Stack;
  http: HttpClient;
  o: ChaosOptions;
  random: () => number;
  log: (m: string) => void;
  year: number;
  assignments: Assignment[];
  t0: number;
  dueAt: number;
  officeAt: number;
  /** Seconds after the cycle started, to one decimal. */
  rel(t: number): number;
}

/** Counters printed with the result (posts, retries, variants seen, …). */
export type Stats = Record<string, number>;
