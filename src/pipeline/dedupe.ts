/**
 * Remembers the most recent ids, not every id ever seen: between `capacity`
 * and 2×`capacity` of them. Duplicates that walkers produce (an inclusive
 * cursor's boundary, a page shifted by new messages) are always recent; the
 * final sort catches anything older, so memory stays flat however long the
 * history is.
 */
export class DedupeWindow {
  private current = new Set<string>();
  private previous = new Set<string>();

  constructor(private readonly capacity: number) {}

  has(id: string): boolean {
    return this.current.has(id) || this.previous.has(id);
  }

  /** Adds `id`; returns false when it was already there. */
  add(id: string): boolean {
    if (this.has(id)) return false;
    if (this.current.size >= this.capacity) {
      this.previous = this.current;
      this.current = new Set();
    }
    this.current.add(id);
    return true;
  }
}
