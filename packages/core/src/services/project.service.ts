import type { TaskCache } from '../cache/task.cache';
import type { ProjectRow } from '../db/schema';
import type { TransactionRunner } from '../db/transaction';
import { NotFoundError, ValidationError } from '../errors';
import { newId } from '../lib/ids';
import { charLength } from '../lib/text';
import type { Page, PageRequest, SortOrder } from '../repositories/pagination';
import type { ProjectRepository, ProjectSort } from '../repositories/project.repository';
import type { TaskRepository } from '../repositories/task.repository';

export interface ProjectInput {
  name: string;
  description?: string | null | undefined;
}

export interface ProjectListQuery extends PageRequest {
  sort: ProjectSort;
  order: SortOrder;
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
  ) {}

  async create(userId: string, input: ProjectInput): Promise<ProjectRow> {
    return this.projects.insert({
      id: newId(),
      userId,
      name: normaliseName(input.name),
      description: normaliseDescription(input.description) ?? null,
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

  async update(userId: string, id: string, patch: Partial<ProjectInput>): Promise<ProjectRow> {
    const changes: { name?: string; description?: string | null } = {};
    if (patch.name !== undefined) changes.name = normaliseName(patch.name);
    if (patch.description !== undefined)
      changes.description = normaliseDescription(patch.description) ?? null;
    if (Object.keys(changes).length === 0) return this.get(userId, id);
    const project = await this.projects.update(userId, id, changes);
    if (!project) throw new NotFoundError('Project');
    await this.taskCache.invalidateProject(userId, id, false);
    return project;
  }

  /** Deletes the project; its tasks are kept and move to no project. */
  async delete(userId: string, id: string): Promise<void> {
    await this.transaction(async (tx) => {
      await this.tasks.withTx(tx).detachFromProject(userId, id);
      if (!(await this.projects.withTx(tx).delete(userId, id))) throw new NotFoundError('Project');
    });
    await this.taskCache.invalidateProject(userId, id, true);
  }
}
