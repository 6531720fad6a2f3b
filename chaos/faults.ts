import { setTimeout as sleep } from 'node:timers/promises';
import { shuffle } from '../bench/synthetic';
import { FAULT_TYPES, type Drill, type FaultRecord, type FaultType } from './types';

/** Which faults land when: every type in turn (shuffled per round), evenly spread from +2 s to the office escalation. */
export interface FaultPlan {
  order: FaultType[];
  times: number[];
}

/** Made before the departments act, so that some submissions can be timed to be in flight when a fault lands. */
export function planFaults(d: Pick<Drill, 'o' | 'random' | 't0' | 'officeAt'>): FaultPlan {
  const { o } = d;
  const types = o.faultTypes && o.faultTypes.length > 0 ? o.faultTypes : FAULT_TYPES;
  const order: FaultType[] = [];
  while (order.length < o.faults) order.push(...shuffle([...types], d.random));
  order.length = o.faults;
  const windowStart = d.t0 + 2_000;
  const times = order.map((_, i) => windowStart + ((d.officeAt - windowStart) * i) / Math.max(1, o.faults - 1));
  return { order, times };
}

/**
 * Injects the planned faults at their times: SIGKILL of the worker (the next kill waits until it polls again),
 * a restart of Temporal or the API (SIGKILL, or for the API every second time SIGTERM), or every PostgreSQL
 * connection cut. Returns what happened, in order.
 */
export async function injectFaults(drill: Drill, plan: FaultPlan): Promise<FaultRecord[]> {
  const { stack, o, log } = drill;
  const faults: FaultRecord[] = [];
  let workerBack: Promise<void> = Promise.resolve();
  let apiRestarts = 0;
  for (const [i, type] of plan.order.entries()) {
    // A worker kill should hit a worker that works, not one still bundling its workflows.
    if (type === 'worker') await workerBack;
    await sleep(Math.max(0, (plan.times[i] ?? 0) - Date.now()));
    const started = Date.now();
    const record: FaultRecord = { type, at: drill.rel(started), detail: '' };
    if (type === 'postgres') {
      record.detail = `${await stack.terminateConnections()} connections terminated`;
    } else {
      const signal: NodeJS.Signals = type === 'api' && apiRestarts++ % 2 === 1 ? 'SIGTERM' : 'SIGKILL';
      const ms = await stack.restart(type, signal);
      record.detail = `${signal}, ${type === 'worker' ? 'respawned' : 'back'} after ${(ms / 1000).toFixed(1)} s`;
      if (type === 'worker') {
        workerBack = stack.waitWorkerPolling(90_000).then(
          (polling) => {
            record.detail += `, polling again after ${((polling + ms) / 1000).toFixed(1)} s`;
          },
          (err: unknown) => {
            record.detail += `, not polling: ${err instanceof Error ? err.message : String(err)}`;
          },
        );
      }
    }
    faults.push(record);
    log(`fault ${faults.length}/${o.faults} at +${record.at} s: ${type} (${record.detail})`);
  }
  await workerBack;
  return faults;
}
