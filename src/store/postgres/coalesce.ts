/**
 * Natural batching of concurrent calls: one batch is on its way to the server at a time; a call
 * made meanwhile waits, and everything that waited goes in the next single statement (one in
 * flight measured best: D36). Nothing is delayed
 * on purpose (no timer): a lone call runs at once, exactly as without batching; under load, one
 * round trip and one commit serve many callers (D36).
 *
 * Each caller gets its own answer from `run`, which answers one result per input, in order, or
 * throws (then every caller of that batch receives the error; `run` decides beforehand what a
 * caller should see, e.g. by retrying alone).
 *
 * @example
 * const finishes = new Coalescer((requests) => completeAll(requests), { maxBatch: 64 });
 * const job = await finishes.submit(request); // joins whatever batch goes next
 */
export class Coalescer<In, Out> {
  private readonly run: (inputs: In[]) => Promise<Out[]>;
  private readonly maxBatch: number;
  private readonly accepts: (batch: readonly In[], next: In) => boolean;
  private waiting: { input: In; resolve: (out: Out) => void; reject: (error: unknown) => void }[] = [];
  private running = false;

  /**
   * @param options.maxBatch most inputs in one batch.
   * @param options.accepts whether `next` may join a batch holding `batch` (e.g. no job twice);
   *   one it refuses waits for the batch after.
   */
  constructor(
    run: (inputs: In[]) => Promise<Out[]>,
    options: {
      maxBatch: number;
      accepts?: (batch: readonly In[], next: In) => boolean;
    },
  ) {
    this.run = run;
    this.maxBatch = options.maxBatch;
    this.accepts = options.accepts ?? (() => true);
  }

  /** Nothing waiting and nothing on its way. */
  get idle(): boolean {
    return !this.running && this.waiting.length === 0;
  }

  submit(input: In): Promise<Out> {
    return this.submitAll([input])[0]!;
  }

  /** Several inputs at once: they can share a batch even when nothing else is on its way. */
  submitAll(inputs: readonly In[]): Promise<Out>[] {
    const answers = inputs.map(
      (input) =>
        new Promise<Out>((resolve, reject) => {
          this.waiting.push({ input, resolve, reject });
        }),
    );
    this.pump();
    return answers;
  }

  private pump(): void {
    if (this.running || this.waiting.length === 0) return;
    const batch: typeof this.waiting = [];
    const inputs: In[] = [];
    const rest: typeof this.waiting = [];
    for (const entry of this.waiting) {
      if (batch.length < this.maxBatch && this.accepts(inputs, entry.input)) {
        batch.push(entry);
        inputs.push(entry.input);
      } else {
        rest.push(entry);
      }
    }
    this.waiting = rest;
    this.running = true;
    void this.send(batch);
  }

  private async send(batch: { input: In; resolve: (out: Out) => void; reject: (error: unknown) => void }[]) {
    try {
      const outs = await this.run(batch.map((b) => b.input));
      batch.forEach((b, i) => b.resolve(outs[i]!));
    } catch (error) {
      for (const b of batch) b.reject(error);
    } finally {
      this.running = false;
      this.pump();
    }
  }
}
