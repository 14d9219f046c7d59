/**
 * The moves one zone map change starts at once (zone `down`, shards moved). Brokers of two
 * zones do not bridge, so a publisher that switches to the new zone before a subscriber of
 * its topic is subscribed there publishes past it. A batch closes that gap: every member's
 * new session is opened and re-subscribed before any member switches (each waits at most
 * until its own move deadline), and old sessions keep draining until every member switched,
 * so whatever a member still publishes at the old zone reaches the subscribers' old sessions.
 */

export class MoveBatch<M> {
  /** Members whose new session is not ready yet (queued, dialling, re-subscribing). */
  private opening = 0;
  /** Members ready, holding their switch until the others are. */
  private readonly waiting: M[] = [];
  /** Members neither switched nor dropped out: they may still publish at the old zone. */
  unswitched = 0;
  private readonly release: (member: M) => void;

  constructor(release: (member: M) => void) {
    this.release = release;
  }

  join(): void {
    this.opening++;
    this.unswitched++;
  }

  /**
   * `member`'s new session is ready. True: switch it now. False: it waits, `release` switches
   * it when the last member is ready or drops out.
   */
  ready(member: M, hold: boolean): boolean {
    this.opening--;
    if (this.opening === 0) {
      this.flush();
      return true;
    }
    if (!hold) return true;
    this.waiting.push(member);
    return false;
  }

  /** A member switched (it was ready: released, or on its own when its hold ran out). */
  switched(member: M): void {
    this.unwait(member);
    this.unswitched--;
  }

  /** A member leaves without switching (move not needed, failed, connection closed). */
  drop(member: M, ready: boolean): void {
    this.unswitched--;
    if (ready) {
      this.unwait(member);
      return;
    }
    this.opening--;
    if (this.opening === 0) this.flush();
  }

  private unwait(member: M): void {
    const i = this.waiting.indexOf(member);
    if (i >= 0) this.waiting.splice(i, 1);
  }

  private flush(): void {
    for (const m of this.waiting.splice(0)) this.release(m);
  }
}
