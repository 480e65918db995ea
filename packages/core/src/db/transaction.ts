import type { Db, Executor } from './client';

/** Runs a function in one database transaction; services use it for multi-step writes. */
export type TransactionRunner = <T>(fn: (tx: Executor) => Promise<T>) => Promise<T>;

export const transactionRunner =
  (db: Db): TransactionRunner =>
  (fn) =>
    db.transaction((tx) => fn(tx));
