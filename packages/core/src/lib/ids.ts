import { v7 } from 'uuid';

/** A new time-ordered UUID (v7): ids sort by creation and keep B-tree inserts local. */
export const newId = (): string => v7();
