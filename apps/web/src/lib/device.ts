/** A touch screen (no keyboard to hint shortcuts for). */
export const TOUCH = typeof window !== 'undefined' && !!window.matchMedia?.('(pointer: coarse)').matches;
