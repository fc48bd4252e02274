/**
 * A listener for one event of an event map: it receives that event's arguments.
 *
 * @typeParam A - the event's argument tuple
 */
export type Listener<A extends unknown[]> = (...args: A) => void;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyListener = (...args: any[]) => void;

/**
 * A small typed event emitter: `on`, `off` and `once`, nothing global.
 *
 * A listener that throws does not stop the others nor the SDK's own state
 * handling; its error is rethrown on a later task so it still shows up.
 *
 * @typeParam E - maps each event name to its listener's argument tuple
 */
export class Emitter<E extends { [K in keyof E]: unknown[] }> {
  #listeners = new Map<keyof E, AnyListener[]>();

  /**
   * Adds `fn` as a listener for `event`.
   *
   * @returns this, for chaining
   */
  on<K extends keyof E>(event: K, fn: Listener<E[K]>): this {
    this.#listeners.set(event, [...(this.#listeners.get(event) ?? []), fn as AnyListener]);
    return this;
  }

  /**
   * Removes `fn` from `event`'s listeners (also when it was added with
   * {@link Emitter.once}); without `fn`, removes every listener of `event`.
   *
   * @returns this, for chaining
   */
  off<K extends keyof E>(event: K, fn?: Listener<E[K]>): this {
    const list = this.#listeners.get(event);
    if (list) {
      const rest = fn
        ? list.filter((l) => l !== fn && (l as { fn?: unknown }).fn !== fn)
        : [];
      this.#listeners.set(event, rest);
    }
    return this;
  }

  /**
   * Adds `fn` as a listener that is removed after its first call.
   *
   * @returns this, for chaining
   */
  once<K extends keyof E>(event: K, fn: Listener<E[K]>): this {
    const wrapper = Object.assign(
      (...args: E[K]) => {
        this.off(event, fn);
        fn(...args);
      },
      { fn },
    );
    return this.on(event, wrapper);
  }

  /** Calls `event`'s listeners with `args`, in the order they were added. */
  protected emit<K extends keyof E>(event: K, ...args: E[K]): void {
    for (const fn of this.#listeners.get(event) ?? []) {
      try {
        (fn as Listener<E[K]>)(...args);
      } catch (err) {
        setTimeout(() => {
          throw err;
        });
      }
    }
  }
}
