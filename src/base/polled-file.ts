import { readFileSync } from 'node:fs';
import { ParleyError } from '../wire/parley-error.js';

export interface PolledFileHandlers<T> {
  /** A new valid version of the file. */
  onValue(value: T): void;
  /** A new version that cannot be used (unreadable, not parseable, invalid): the last good value stays. */
  onRejected(error: ParleyError): void;
}

/**
 * A configuration file that is reloaded live: the policy, the trust list, the token keys. Read
 * once at start (a broken file refuses the start: `load` throws) and then polled: its content is
 * read every `intervalMs` (an unref'd timer, so it never keeps a process alive). Reading the
 * content rather than watching the file's stat catches every rename and every editor's way of
 * saving. `parse` turns the text into a value or throws INVALID_ARGUMENT naming the problem.
 *
 * Invariant: each distinct content is handled once — a valid one reported by onValue, a broken
 * one by onRejected — so a broken file left in place produces one error, not one per poll.
 */
export class PolledFile<T> {
  private last: string | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(
    readonly path: string,
    /** What the file holds, for messages: `policy file`, `trust file`. */
    private readonly what: string,
    private readonly parse: (text: string) => T,
    private readonly handlers: PolledFileHandlers<T>,
  ) {}

  /** Reads and parses the file now; throws INVALID_ARGUMENT when it cannot be used. */
  load(): T {
    const text = this.read();
    this.last = text;
    return this.parse(text);
  }

  start(intervalMs = 1000): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.poll(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One poll: handles the content if it changed since the last poll. */
  poll(): void {
    let text: string;
    try {
      text = this.read();
    } catch (err) {
      // Unreadable (missing, permissions): a "content" of its own, reported once.
      const marker = `\u0000unreadable: ${(err as Error).message}`;
      if (marker === this.last) return;
      this.last = marker;
      this.handlers.onRejected(err as ParleyError);
      return;
    }
    if (text === this.last) return;
    this.last = text;
    let value: T;
    try {
      value = this.parse(text);
    } catch (err) {
      this.handlers.onRejected(ParleyError.from(err));
      return;
    }
    this.handlers.onValue(value);
  }

  private read(): string {
    try {
      return readFileSync(this.path, 'utf8');
    } catch (err) {
      throw new ParleyError('INVALID_ARGUMENT', `cannot read ${this.what} ${this.path}: ${(err as Error).message}`);
    }
  }
}
