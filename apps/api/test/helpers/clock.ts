export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;

/** A clock the tests can move forward; it follows real time plus an offset. */
export function fakeClock() {
  let offset = 0;
  return {
    now: () => new Date(Date.now() + offset),
    advance(ms: number) {
      offset += ms;
    },
    reset() {
      offset = 0;
    },
    /** From now on, "now" is `at` (and moves on with real time). */
    set(at: Date | string) {
      offset = new Date(at).getTime() - Date.now();
    },
  };
}
