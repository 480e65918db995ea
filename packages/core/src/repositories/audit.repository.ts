import { and, desc, eq, gte, like, lt, or, type SQL, sql } from 'drizzle-orm';
import type { Executor } from '../db/client';
import { type AuditLogRow, auditLog } from '../db/schema';
import { offsetOf, type Page, type PageRequest } from './pagination';

export type NewAuditRow = Omit<AuditLogRow, 'at'> & { at?: Date };

/** What an audit log search may filter on; every filter is optional. */
export interface AuditFilter {
  actorId?: string | undefined;
  /** An action (`task.updated`), or a family ending in a dot (`task.`). */
  action?: string | undefined;
  targetType?: string | undefined;
  targetId?: string | undefined;
  from?: Date | undefined;
  to?: Date | undefined;
  /** Entries by this user or about their account (their own activity). */
  involving?: string | undefined;
}

/** The audit log: rows are appended, read, never changed (the database role cannot). */
export class AuditRepository {
  constructor(private readonly db: Executor) {}

  withTx(tx: Executor): AuditRepository {
    return new AuditRepository(tx);
  }

  async append(rows: NewAuditRow[]): Promise<void> {
    if (rows.length > 0) await this.db.insert(auditLog).values(rows);
  }

  /** Newest first. */
  async list(filter: AuditFilter, page: PageRequest): Promise<Page<AuditLogRow>> {
    const where = and(...conditions(filter));
    const [items, [total]] = await Promise.all([
      this.db
        .select()
        .from(auditLog)
        .where(where)
        .orderBy(desc(auditLog.at), desc(auditLog.id))
        .limit(page.limit)
        .offset(offsetOf(page)),
      this.db.select({ n: sql<number>`count(*)::int` }).from(auditLog).where(where),
    ]);
    return { items, total: total?.n ?? 0 };
  }
}

function conditions(f: AuditFilter): SQL[] {
  const out: SQL[] = [];
  if (f.actorId) out.push(eq(auditLog.actorId, f.actorId));
  if (f.action) {
    out.push(
      f.action.endsWith('.')
        ? like(auditLog.action, `${f.action.replace(/[\\%_]/g, '\\$&')}%`)
        : eq(auditLog.action, f.action),
    );
  }
  if (f.targetType) out.push(eq(auditLog.targetType, f.targetType));
  if (f.targetId) out.push(eq(auditLog.targetId, f.targetId));
  if (f.from) out.push(gte(auditLog.at, f.from));
  if (f.to) out.push(lt(auditLog.at, f.to));
  if (f.involving) {
    out.push(
      or(
        eq(auditLog.actorId, f.involving),
        and(eq(auditLog.targetType, 'user'), eq(auditLog.targetId, f.involving)),
      )!,
    );
  }
  return out;
}
