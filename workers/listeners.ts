/**
 * The worker's event subscribers: numbered so they can unsubscribe; one that throws or whose
 * promise rejects (a comlink proxy of a closed page) is dropped.
 */
export class Listeners<E> {
  private listeners = new Map<number, (event: E) => void>();
  private next = 1;

  add(listener: (event: E) => void): number {
    const id = this.next++;
    this.listeners.set(id, listener);
    return id;
  }

  remove(id: number): void {
    this.listeners.delete(id);
  }

  emit(event: E): void {
    for (const [id, listener] of this.listeners) {
      try {
        const maybe = listener(event) as unknown;
        if (maybe instanceof Promise) maybe.catch(() => this.listeners.delete(id));
      } catch {
        this.listeners.delete(id);
      }
    }
  }
}
