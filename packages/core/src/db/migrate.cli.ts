// `npm run migrate`: applies pending migrations to DATABASE_URL (or the embedded database) and exits.
import { ConfigError, loadConfig } from '../config';
import { openDatabase } from './client';

try {
  const config = loadConfig();
  const database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  await database.migrate();
  console.log(`Migrations applied to ${database.location}`);
  await database.close();
} catch (err) {
  console.error(err instanceof ConfigError ? err.message : `Migration failed: ${(err as Error).message}`);
  process.exit(1);
}
