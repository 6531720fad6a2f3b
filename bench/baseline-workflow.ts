import { condition, defineSignal, setHandler } from '@temporalio/workflow';

/**
 * The baseline of the benchmark: the least a workflow can do with a start and a signal. It waits for one
 * `poke` and completes, so the raw figures measure Temporal (dev server + SDK), not duban.
 */

export const BASELINE_TASK_QUEUE = 'bench-baseline';

export const pokeSignal = defineSignal<[number]>('poke');

export async function trivial(): Promise<number> {
  let pokes = 0;
  setHandler(pokeSignal, (n) => {
    pokes += n;
  });
  await condition(() => pokes > 0);
  return pokes;
}
