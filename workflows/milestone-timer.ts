import { CancellationScope, isCancellation, sleep } from '@temporalio/workflow';
import type { Instant } from '../domain/model';

/**
 * The work point's one timer for its next milestone (patch `keep-milestone-timer`): `arm` leaves a timer whose instant
 * is unchanged as it is, so a wake-up by a message costs no TimerCanceled / TimerStarted pair; it cancels and starts
 * a timer only when the next milestone moves, or after the timer fired.
 */
export class MilestoneTimer {
  private at: Instant | undefined;
  private scope: CancellationScope | undefined;
  /** The armed timer has fired: the milestone is due. */
  fired = false;

  constructor(private readonly now: () => Instant) {}

  arm(at: Instant | undefined): void {
    if (at === this.at && !this.fired) return;
    this.scope?.cancel();
    this.scope = undefined;
    this.at = at;
    this.fired = false;
    if (at === undefined) return;
    const scope = new CancellationScope();
    this.scope = scope;
    scope
      .run(() => sleep(Math.max(at - this.now(), 1)))
      .then(
        () => {
          if (this.scope === scope) this.fired = true;
        },
        (err: unknown) => {
          if (!isCancellation(err)) throw err;
        },
      );
  }
}
