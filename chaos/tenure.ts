/** A node's time as the primary: from its promotion (or the start) until another node's promotion began. */
export interface Tenure {
  readonly host: string;
  /** The timeline it wrote on; null: whichever it was on (a tenure taken from who held an orchestrator's lock). */
  readonly timeline: number | null;
  readonly from: number;
  /** null while it is still the primary. */
  readonly to: number | null;
}

/** Who was the primary when, as the fault injector made it so. */
export class TenureLog {
  readonly #tenures: Tenure[] = [];

  begin(host: string, timeline: number | null, at: number): void {
    this.end(at);
    this.#tenures.push({ host, timeline, from: at, to: null });
  }

  /** Ends the current tenure; a no-op when none is open. */
  end(at: number): void {
    const last = this.#tenures[this.#tenures.length - 1];
    if (last !== undefined && last.to === null) this.#tenures[this.#tenures.length - 1] = { ...last, to: at };
  }

  list(): readonly Tenure[] {
    return [...this.#tenures];
  }
}
