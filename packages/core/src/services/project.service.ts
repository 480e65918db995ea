import type { TaskCache } from '../cache/task.cache';
import type { Executor } from '../db/client';
import type { ProjectRow } from '../db/schema';
import type { TransactionRunner } from '../db/transaction';
import { assertVersion, type IfVersion, NotFoundError, ValidationError } from '../errors';
import { newId } from '../lib/ids';
import { charLength } from '../lib/text';
import type { DomainEvent, OutboxRepository } from '../repositories/outbox.repository';
import type { Page, PageRequest, SortOrder } from '../repositories/pagination';
import type { ProjectRepository, ProjectSort } from '../repositories/project.repository';
import type { TaskRepository } from '../repositories/task.repository';
import { taskEvent } from './task.service';

export interface ProjectInput {
  name: string;
  description?: string | null | undefined;
}

export interface ProjectListQuery extends PageRequest {
  sort: ProjectSort;
  order: SortOrder;
}

function projectEvent(type: 'project.created' | 'project.updated', project: ProjectRow): DomainEvent {
  return { type, userId: project.userId, aggregateId: project.id, payload: { project } };
}

function normaliseName(name: string): string {
  const trimmed = name.trim();
  if (trimmed.length === 0 || charLength(trimmed) > 200)
    throw ValidationError.field('name', 'must be 1 to 200 characters');
  return trimmed;
}

function normaliseDescription(description: string | null | undefined): string | null | undefined {
  if (description === undefined || description === null) return description;
  if (charLength(description) > 10_000)
    throw ValidationError.field('description', 'must be at most 10000 characters');
  return description;
}

export class ProjectService {
  constructor(
    private readonly projects: ProjectRepository,
    private readonly tasks: TaskRepository,
    private readonly transaction: TransactionRunner,
    private readonly taskCache: TaskCache,
    private readonly outbox: OutboxRepository,
  ) {}

  async create(userId: string, input: ProjectInput): Promise<ProjectRow> {
    const name = normaliseName(input.name);
    const description = normaliseDescription(input.description) ?? null;
    return this.transaction(async (tx) => {
      const project = await this.projects.withTx(tx).insert({ id: newId(), userId, name, description });
      await this.outbox.withTx(tx).append([projectEvent('project.created', project)]);
      return project;
    });
  }

  async get(userId: string, id: string): Promise<ProjectRow> {
    const project = await this.projects.findById(userId, id);
    if (!project) throw new NotFoundError('Project');
    return project;
  }

  list(userId: string, query: ProjectListQuery): Promise<Page<ProjectRow>> {
    return this.projects.list(userId, query, query.sort, query.order);
  }

  /** `ifVersion`: the versions the change was made against (If-Match); another one is a 412. */
  async update(
    userId: string,
    id: string,
    patch: Partial<ProjectInput>,
    ifVersion?: IfVersion,
  ): Promise<ProjectRow> {
    const changes: { name?: string; description?: string | null } = {};
    if (patch.name !== undefined) changes.name = normaliseName(patch.name);
    if (patch.description !== undefined)
      changes.description = normaliseDescription(patch.description) ?? null;
    if (Object.keys(changes).length === 0) {
      const current = await this.get(userId, id);
      assertVersion(ifVersion, current.version);
      return current;
    }
    const project = await this.transaction(async (tx) => {
      await this.lockVersion(tx, userId, id, ifVersion);
      const row = await this.projects.withTx(tx).update(userId, id, changes);
      if (!row) throw new NotFoundError('Project');
      await this.outbox.withTx(tx).append([projectEvent('project.updated', row)]);
      return row;
    });
    await this.taskCache.invalidateProject(userId, id, false);
    return project;
  }

  /** Deletes the project; its tasks are kept and move to no project. */
  async delete(userId: string, id: string, ifVersion?: IfVersion): Promise<void> {
    await this.transaction(async (tx) => {
      // Locked first, always: a task moved into the project meanwhile waits (its foreign key
      // check), then fails, instead of being detached by ON DELETE SET NULL without a version.
      const current = await this.projects.withTx(tx).findForUpdate(userId, id);
      if (!current) throw new NotFoundError('Project');
      assertVersion(ifVersion, current.version);
      const detached = await this.tasks.withTx(tx).detachFromProject(userId, id);
      if (!(await this.projects.withTx(tx).delete(userId, id))) throw new NotFoundError('Project');
      // The project's tasks changed too (project_id became null): each says so.
      await this.outbox
        .withTx(tx)
        .append([
          { type: 'project.deleted', userId, aggregateId: id, payload: { id } },
          ...detached.map((task) => taskEvent('task.updated', task)),
        ]);
    });
    await this.taskCache.invalidateProject(userId, id, true);
  }

  /** With If-Match: locks the project and checks its version first (404 or 412). */
  private async lockVersion(tx: Executor, userId: string, id: string, ifVersion: IfVersion): Promise<void> {
    if (!ifVersion) return;
    const current = await this.projects.withTx(tx).findForUpdate(userId, id);
    if (!current) throw new NotFoundError('Project');
    assertVersion(ifVersion, current.version);
  }
}
