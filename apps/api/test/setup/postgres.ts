// Migrates a template database once; each test file gets its own copy (CREATE DATABASE … TEMPLATE).
// An unreachable PostgreSQL fails the run: these tests never skip silently.
import { openDatabase } from '@taskman/core';
import pg from 'pg';
import type { TestProject } from 'vitest/node';

export const DEFAULT_TEST_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

export default async function setup(project: TestProject) {
  const adminUrl = process.env.TEST_DATABASE_URL || DEFAULT_TEST_DATABASE_URL;
  const admin = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 5000 });
  try {
    await admin.connect();
  } catch (err) {
    throw new Error(
      `PostgreSQL tests need a server: could not connect to ${adminUrl} (${(err as Error).message}). Set TEST_DATABASE_URL.`,
    );
  }
  const template = `taskman_tpl_${process.pid}`;
  await admin.query(`drop database if exists ${template}`);
  await admin.query(`create database ${template}`);
  const url = new URL(adminUrl);
  url.pathname = `/${template}`;
  const db = await openDatabase({ databaseUrl: url.toString(), dataDir: 'unused' });
  await db.migrate();
  await db.close();
  project.provide('pgAdminUrl', adminUrl);
  project.provide('pgTemplate', template);

  return async () => {
    const { rows } = await admin.query<{ datname: string }>(
      `select datname from pg_database where datname = $1 or datname like $2`,
      [template, `taskman_t_${process.pid}_%`],
    );
    for (const r of rows) await admin.query(`drop database if exists ${r.datname} with (force)`);
    await admin.end();
  };
}
