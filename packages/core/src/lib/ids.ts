import { v7, validate } from 'uuid';

/** A new time-ordered UUID (v7): ids sort by creation and keep B-tree inserts local. */
export const newId = (): string => v7();

/** True for any UUID (an id from outside that a uuid column would refuse with an error). */
export const isUuid = (s: string): boolean => validate(s);
