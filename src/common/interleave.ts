// Two async sequences read at once, their items passed on as they come: a snapshot read beside the
// live stream it hands over to.

/**
 * The items of `side` and `main` as they arrive. An item that `continues` (more of its
 * transaction follow) keeps its sequence's turn until one that does not, so that a transaction
 * is never split by the other sequence's items. Ends when `main` ends (`side` ending first leaves `main` alone); the first error of
 * either ends it too.
 */
export async function* interleave<T>(side: AsyncIterator<T>, main: AsyncIterator<T>, continues: (item: T) => boolean): AsyncGenerator<T> {
  type Arrival = { from: AsyncIterator<T>; result: IteratorResult<T> };
  const next = (from: AsyncIterator<T>): Promise<Arrival> => {
    const arrival = from.next().then((result) => ({ from, result }));
    // Raced below; one still pending when the other fails must not be an unhandled rejection.
    arrival.catch(() => {});
    return arrival;
  };
  const pending = new Map<AsyncIterator<T>, Promise<Arrival>>([
    [side, next(side)],
    [main, next(main)],
  ]);
  try {
    for (;;) {
      const { from, result } = await Promise.race(pending.values());
      if (result.done) {
        if (from === main) return;
        pending.delete(from);
        continue;
      }
      yield result.value;
      let last = result.value;
      let ended = false;
      while (continues(last)) {
        const more = await from.next();
        if (more.done) {
          ended = true;
          break;
        }
        yield more.value;
        last = more.value;
      }
      if (ended && from === main) return;
      if (ended) pending.delete(from);
      else pending.set(from, next(from));
    }
  } finally {
    // Not awaited: one waiting on the network would hold the caller until its next item.
    for (const iterator of [side, main]) void iterator.return?.(undefined)?.catch(() => {});
  }
}
