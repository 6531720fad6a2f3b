import {
  ActivityFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  defineSignal,
  log,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { toShanghaiIso } from '../domain/instants';

/**
 * The outbox dispatcher: one long-lived workflow (fixed ID, started by every worker at boot with
 * signal-with-start, so there is exactly one) that calls `deliverDue` every interval. A workflow rather
 * than a setInterval in the worker process: its timer survives restarts and deploys, it runs once per
 * cluster however many workers there are, and each pass is visible in the Temporal UI.
 */

export const DISPATCHER_WORKFLOW_ID = 'duban-dispatcher';

export interface DispatcherInput {
  /** Pause between passes over the outbox; default one minute. */
  intervalMs?: number;
  /** Passes before continue-as-new (default 500: about 5,500 history events, well under the 10,240 warning). */
  passesPerRun?: number;
}

export interface DispatcherConfig {
  intervalMs?: number;
}

/** Sent by every worker at boot (with start): a changed DISPATCH_INTERVAL applies without a restart of the run. */
export const configureDispatcherSignal = defineSignal<[DispatcherConfig]>('configureDispatcher');
/** Runs a pass now instead of at the next interval (e.g. after SMTP was fixed). */
export const dispatchNowSignal = defineSignal('dispatchNow');

const DEFAULT_INTERVAL_MS = 60_000;
const MIN_INTERVAL_MS = 1_000;
/** A pass that reports `more` is followed at once by another, up to this many, before the interval wait. */
const MAX_CONSECUTIVE_PASSES = 20;

const { deliverDue } = proxyActivities<Activities>({
  // Sends are bounded (SMTP 30 s socket timeout, webhook 15 s) and a pass handles at most 50 contacts.
  startToCloseTimeout: '5 minutes',
  // The pass heartbeats around every send: a worker killed mid-pass is retried after a minute, not five
  // (options are not part of replay, so this needs no patch).
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 5 },
});

const validInterval = (ms: unknown): ms is number =>
  typeof ms === 'number' && Number.isFinite(ms) && ms >= MIN_INTERVAL_MS;

export async function dispatcher(input: DispatcherInput = {}): Promise<void> {
  let intervalMs = validInterval(input.intervalMs) ? input.intervalMs : DEFAULT_INTERVAL_MS;
  let wake = false;
  setHandler(configureDispatcherSignal, (config) => {
    if (validInterval(config.intervalMs)) intervalMs = config.intervalMs;
  });
  setHandler(dispatchNowSignal, () => {
    wake = true;
  });

  const passes = input.passesPerRun ?? 500;
  for (let i = 0; i < passes && !workflowInfo().continueAsNewSuggested; i += 1) {
    wake = false;
    try {
      let sent = 0;
      for (let n = 0; n < MAX_CONSECUTIVE_PASSES; n += 1) {
        const r = await deliverDue({ now: Date.now() });
        sent += r.messages;
        if (!r.more) {
          setCurrentDetails(
            `${toShanghaiIso(Date.now())}：${r.quiet ? '免打扰时段，未发送' : `发送 ${sent} 条消息`}` +
              `${r.retrying + r.failed > 0 ? `，失败 ${r.retrying + r.failed} 条` : ''}`,
          );
          break;
        }
      }
    } catch (err) {
      // The pass already retried (database away?); the next interval tries again instead of ending the loop.
      if (!(err instanceof ActivityFailure)) throw err;
      log.warn('delivery pass failed; retrying at the next interval', { error: err.message });
    }
    await condition(() => wake, intervalMs);
  }
  await condition(allHandlersFinished);
  await continueAsNew<typeof dispatcher>({ ...input, intervalMs });
}
