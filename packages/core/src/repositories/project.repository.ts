import { and, asc, desc, eq, sql } from 'drizzle-orm';
import type { Executor } from '../db/client';
import { type ProjectRow, projects } from '../db/schema';
import { offsetOf, type Page, type PageRequest, type SortOrder } from './pagination';

export type NewProject = Pick<ProjectRow, 'id' | 'userId' | 'name' | 'description'>;
export type ProjectPatch = Partial<Pick<ProjectRow, 'name' | 'description'>>;
export const PROJECT_SORTS = ['created_at', 'updated_at', 'name'] as const;
export type ProjectSort = (typeof PROJECT_SORTS)[number];

const sortColumns = { created_at: projects.createdAt, updated_at: projects.updatedAt, name: projects.name };

/** Every method takes the owner's id and filters on it: a project of another user does not exist here. */
export class ProjectRepository {
  constructor(private readonly db: Executor) {}

  withTx(tx: Executor): ProjectRepository {
    return new ProjectRepository(tx);
  }

  async insert(project: NewProject): Promise<ProjectRow> {
    const [row] = await this.db.insert(projects).values(project).returning();
    return row!;
  }

  async findById(userId: string, id: string): Promise<ProjectRow | undefined> {
    const [row] = await this.db
      .select()
      .from(projects)
      .where(and(eq(projects.userId, userId), eq(projects.id, id)));
    return row;
  }

  async exists(userId: string, id: string): Promise<boolean> {
    return (await this.findById(userId, id)) !== undefined;
  }

  async list(
    userId: string,
    page: PageRequest,
    sort: ProjectSort,
    order: SortOrder,
  ): Promise<Page<ProjectRow>> {
    const where = eq(projects.userId, userId);
    const dir = order === 'asc' ? asc : desc;
    const [items, [count]] = await Promise.all([
      this.db
        .select()
        .from(projects)
        .where(where)
        .orderBy(dir(sortColumns[sort]), dir(projects.id))
        .limit(page.limit)
        .offset(offsetOf(page)),
      this.db.select({ n: sql<number>`count(*)::int` }).from(projects).where(where),
    ]);
    return { items, total: count?.n ?? 0 };
  }

  /** The names of the user's projects (at most 1,000), for quick add. */
  names(userId: string): Promise<{ id: string; name: string }[]> {
    return this.db
      .select({ id: projects.id, name: projects.name })
      .from(projects)
      .where(eq(projects.userId, userId))
      .orderBy(projects.createdAt)
      .limit(1000);
  }

  /** Locks the project's row for the rest of the transaction and returns it. */
  async findForUpdate(userId: string, id: string): Promise<ProjectRow | undefined> {
    const [row] = await this.db
      .select()
      .from(projects)
      .where(and(eq(projects.userId, userId), eq(projects.id, id)))
      .for('update');
    return row;
  }

  async update(userId: string, id: string, patch: ProjectPatch): Promise<ProjectRow | undefined> {
    const [row] = await this.db
      .update(projects)
      .set({ ...patch, version: sql`${projects.version} + 1`, updatedAt: sql`now()` })
      .where(and(eq(projects.userId, userId), eq(projects.id, id)))
      .returning();
    return row;
  }

  /** Deletes the project; its tasks stay, with project_id set to null (ON DELETE SET NULL). */
  async delete(userId: string, id: string): Promise<boolean> {
    const rows = await this.db
      .delete(projects)
      .where(and(eq(projects.userId, userId), eq(projects.id, id)))
      .returning({ id: projects.id });
    return rows.length > 0;
  }
}
