/**
 * A Web Locks stand-in shared by several simulated tabs in one test (Node has no navigator.locks):
 * exclusive locks, `ifAvailable`, waiters granted in order when the holder's callback settles.
 */
import type { LockManagerLike } from '../../workers/queue-host';

export class FakeLocks {
  private held = new Set<string>();
  private waiting = new Map<string, Array<() => void>>();

  readonly manager: LockManagerLike = {
    request: (name, options, callback) => this.request(name, options, callback),
  };

  isHeld(name: string): boolean {
    return this.held.has(name);
  }

  private async request(name: string, options: { ifAvailable?: boolean }, callback: (lock: unknown) => Promise<unknown>): Promise<unknown> {
    if (this.held.has(name)) {
      if (options.ifAvailable) return callback(null);
      await new Promise<void>((grant) => {
        // The holder keeps `held` set when it hands over, so the waiter starts as the holder.
        const line = this.waiting.get(name) ?? [];
        line.push(grant);
        this.waiting.set(name, line);
      });
    } else {
      this.held.add(name);
    }
    try {
      return await callback({ name });
    } finally {
      const next = this.waiting.get(name)?.shift();
      // Handed straight to the next waiter, so nobody can slip in between.
      if (next) next();
      else this.held.delete(name);
    }
  }
}
