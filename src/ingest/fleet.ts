// The streams of `ingest --all --standby` shared over the processes that run it, on any number of
// hosts: each holds at most its share (the streams divided by the live members, rounded up), so
// the streams spread over the fleet. A member over its share after another joined hands the newest
// streams it took back (they commit and release, and a member below its share takes them); a
// member that dies stops renewing, and the others' shares grow to take its streams.
import type { StreamSlot } from './standby.js';

export class FleetShare {
  private members = 1;
  /** The streams this process holds or is taking, oldest first. */
  private readonly held: string[] = [];

  constructor(private readonly streams: number) {}

  /** How many of the streams this process may hold now. */
  get share(): number {
    return Math.ceil(this.streams / this.members);
  }

  /** The live members, from the latest renewal of this process's membership. */
  setMembers(members: number): void {
    this.members = Math.max(1, members);
  }

  slotFor(stream: string): StreamSlot {
    return {
      take: () => {
        if (this.held.length >= this.share) return false;
        this.held.push(stream);
        return true;
      },
      give: () => {
        const at = this.held.indexOf(stream);
        if (at !== -1) this.held.splice(at, 1);
      },
    };
  }

  /** The streams over this process's share, the newest taken first. */
  surplus(): string[] {
    return this.held.slice(this.share).reverse();
  }
}
