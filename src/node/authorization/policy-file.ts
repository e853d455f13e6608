import { readFileSync } from 'node:fs';
import { ParleyError } from '../../wire/parley-error.js';
import { type Policy, parsePolicy } from './policy.js';

export interface PolicyFileHandlers {
  /** A new valid version of the file. */
  onPolicy(policy: Policy): void;
  /** A new version that cannot be used (unreadable, not JSON, invalid): the last good policy stays. */
  onRejected(error: ParleyError): void;
}

/**
 * A policy file, read once at start (a broken file refuses the start: `load` throws) and then
 * polled: its content is read every `intervalMs` (an unref'd timer, so it never keeps a process
 * alive). Reading the content rather than watching the file's stat catches every rename and
 * every editor's way of saving.
 *
 * Invariant: each distinct content is handled once — a valid one reported by onPolicy, a broken
 * one by onRejected — so a broken file left in place produces one error, not one per poll.
 */
export class PolicyFile {
  private last: string | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(
    readonly path: string,
    private readonly handlers: PolicyFileHandlers,
  ) {}

  /** Reads and validates the file now; throws INVALID_ARGUMENT when it cannot be used. */
  load(): Policy {
    const text = this.read();
    this.last = text;
    return parsePolicy(text, `policy file ${this.path}`);
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
    let policy: Policy;
    try {
      policy = parsePolicy(text, `policy file ${this.path}`);
    } catch (err) {
      this.handlers.onRejected(err as ParleyError);
      return;
    }
    this.handlers.onPolicy(policy);
  }

  private read(): string {
    try {
      return readFileSync(this.path, 'utf8');
    } catch (err) {
      throw new ParleyError('INVALID_ARGUMENT', `cannot read policy file ${this.path}: ${(err as Error).message}`);
    }
  }
}
