// Migrates one PGlite database and dumps it; each test file loads the dump (much faster than initdb).
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { databaseFromPglite } from '@taskman/core';
import type { TestProject } from 'vitest/node';

export default async function setup(project: TestProject) {
  const client = await PGlite.create();
  await databaseFromPglite(client, 'template').migrate();
  const dump = await client.dumpDataDir('none');
  const file = path.join(tmpdir(), `taskman-test-${process.pid}.tar`);
  await writeFile(file, Buffer.from(await dump.arrayBuffer()));
  await client.close();
  project.provide('pgliteDump', file);
}

declare module 'vitest' {
  export interface ProvidedContext {
    pgliteDump: string;
    pgAdminUrl: string;
    pgTemplate: string;
  }
}
