/** Returned by a subscription; call `dispose()` to unsubscribe. Disposing twice is harmless. */
export interface Disposable {
  dispose(): void;
}

/** A subscribable event: `onStateChange((e) => ...)` returns a Disposable. */
export type Event<T> = (listener: (value: T) => void) => Disposable;

/**
 * The producer side of an `Event<T>`. Listeners run synchronously in subscription order; a
 * listener that throws does not stop the others (the error is reported via `queueMicrotask`
 * so it surfaces as an uncaught error instead of breaking the policy that fired the event).
 */
export class Emitter<T> {
  readonly #listeners = new Set<(value: T) => void>();

  readonly event: Event<T> = (listener) => {
    // Wrap so the same function subscribed twice gets two independent subscriptions.
    const entry = (value: T) => listener(value);
    this.#listeners.add(entry);
    return { dispose: () => this.#listeners.delete(entry) };
  };

  get size(): number {
    return this.#listeners.size;
  }

  fire(value: T): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener(value);
      } catch (err) {
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }
}
