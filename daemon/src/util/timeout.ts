/**
 * Two ways to bound a promise in time, named for what they do with a late one:
 *  - withTimeout rejects with an Error naming `what` (a stop that must be reported when it hangs);
 *  - settleWithin resolves undefined (best effort: a farewell message that may be dropped).
 * Neither timer keeps the process alive.
 */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
      timer.unref();
    }),
  ]);
}

/** The value, or undefined when `p` rejects or takes longer than `ms`. Never rejects. */
export function settleWithin<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), ms);
    timer.unref();
    p.then(
      (v) => (clearTimeout(timer), resolve(v)),
      () => (clearTimeout(timer), resolve(undefined)),
    );
  });
}
