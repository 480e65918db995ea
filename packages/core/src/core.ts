import { randomBytes } from 'node:crypto';
import type { Config } from './config';
import { type Database, openDatabase } from './db/client';
import { transactionRunner } from './db/transaction';
import { type Clock, systemClock } from './lib/clock';
import { PasswordHasher } from './lib/password';
import { loadOrCreateSecret } from './lib/secret';
import { ProjectRepository } from './repositories/project.repository';
import { TaskRepository } from './repositories/task.repository';
import { UserRepository } from './repositories/user.repository';
import { AuthService } from './services/auth.service';
import { ProjectService } from './services/project.service';
import { TaskService } from './services/task.service';
import { TokenService } from './services/token.service';
import { UserService } from './services/user.service';

/** The services an entry point (API, worker, CLI) works with. */
export interface Services {
  auth: AuthService;
  users: UserService;
  projects: ProjectService;
  tasks: TaskService;
}

export interface Core {
  config: Config;
  database: Database;
  services: Services;
  close(): Promise<void>;
}

export interface CreateCoreOptions {
  /** Use this database instead of opening one from the config (tests). */
  database?: Database;
  clock?: Clock;
  /** Apply pending migrations before returning (default true). */
  migrate?: boolean;
}

function jwtSecretFor(config: Config): string {
  if (config.jwtSecret) return config.jwtSecret;
  if (config.dataDir.startsWith('memory://')) return randomBytes(48).toString('base64url');
  return loadOrCreateSecret(config.dataDir, 'jwt-secret');
}

/** The composition root: opens the database, migrates it and wires repositories into services. */
export async function createCore(config: Config, opts: CreateCoreOptions = {}): Promise<Core> {
  const database =
    opts.database ??
    (await openDatabase({
      databaseUrl: config.databaseUrl,
      dataDir: config.dataDir,
      poolMax: config.databasePoolMax,
    }));
  try {
    if (opts.migrate !== false) await database.migrate();
  } catch (err) {
    await database.close().catch(() => {});
    throw err;
  }
  const clock = opts.clock ?? systemClock;
  const transaction = transactionRunner(database.db);

  const userRepo = new UserRepository(database.db);
  const projectRepo = new ProjectRepository(database.db);
  const taskRepo = new TaskRepository(database.db);

  const tokens = new TokenService(jwtSecretFor(config), config.jwtExpiresInSeconds);
  const hasher = new PasswordHasher(config.bcryptCost);
  const auth = new AuthService(userRepo, hasher, tokens, transaction, config.adminEmails);

  return {
    config,
    database,
    services: {
      auth,
      users: new UserService(userRepo, auth),
      projects: new ProjectService(projectRepo, taskRepo, transaction),
      tasks: new TaskService(taskRepo, projectRepo, clock),
    },
    close: () => database.close(),
  };
}
