/** The source of "now" for services, so rules about time can be tested at fixed instants. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };
