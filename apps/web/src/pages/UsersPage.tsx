import { useQueryClient } from '@tanstack/react-query';
import { TaskmanError, type User } from '@taskman/sdk';
import { useEffect, useRef, useState } from 'react';
import { Link, useSearchParams } from 'react-router';
import { adminGate } from '../components/AdminsOnly';
import { ConfirmBox } from '../components/ConfirmBox';
import { When } from '../components/When';
import { messageOf } from '../lib/api';
import { actorLog, type Role, type UserPage, updateUser, useUsers } from '../lib/audit';
import { useMe } from '../lib/session';
import { toast } from '../lib/toast';

/** How long typing pauses before the search is asked for. */
const SEARCH_DELAY_MS = 300;

/**
 * Users (admins): every account, searched by part of an email or name, a page at a time; per
 * account, disable or enable it, make it an admin or remove that role, and its activity in the audit
 * log. An admin's own account cannot be disabled or demoted (the API refuses it too). The search and
 * page live in the URL, so a reload or a shared link shows the same list.
 */
export function UsersPage() {
  const me = useMe();
  const admin = me.data?.role === 'admin';
  const [params, setParams] = useSearchParams();
  const q = params.get('q')?.trim() ?? '';
  const page = Math.max(1, Number(params.get('page')) || 1);
  const users = useUsers(admin ? { page, ...(q ? { q } : {}) } : undefined);
  const [text, setText] = useState(q);
  const heading = useRef<HTMLHeadingElement>(null);

  // From the URL as it is now (react-router's copy is that of the last render).
  const update = (changes: Record<string, string | undefined>) => {
    const next = new URLSearchParams(window.location.search);
    for (const [k, v] of Object.entries(changes)) {
      if (v) next.set(k, v);
      else next.delete(k);
    }
    setParams(next, { replace: true });
  };

  // The search follows the typing, once it pauses.
  // biome-ignore lint/correctness/useExhaustiveDependencies: `update` reads the URL when it runs
  useEffect(() => {
    const wanted = text.trim();
    if (wanted === q) return;
    const timer = setTimeout(() => update({ q: wanted || undefined, page: undefined }), SEARCH_DELAY_MS);
    return () => clearTimeout(timer);
  }, [text, q]);

  const gate = adminGate(
    'Users',
    me,
    users.error,
    <>
      Managing accounts is for the administrators of this Taskman. Ask one of them if you need a change to an
      account.
    </>,
  );
  if (gate) return gate;

  const data = users.data;
  const meta = data?.meta;
  const updating = users.isFetching && users.isPlaceholderData;
  const searched = data && q;

  return (
    <section className="content ops users-page" aria-labelledby="users-title">
      <div className="page-head">
        <h1 id="users-title" ref={heading} tabIndex={-1}>
          Users
        </h1>
        <div className="row wrap">
          <Link to="/audit" className="btn">
            Audit log
          </Link>
          <Link to="/admin" className="btn">
            Operations
          </Link>
        </div>
      </div>
      <p className="muted page-sub">
        <span>Every account of this Taskman</span>
        {meta && (
          <>
            <span className="page-sub-sep" aria-hidden="true">
              ·
            </span>
            <span>
              {q
                ? `${meta.total} match${meta.total === 1 ? '' : 'es'}`
                : `${meta.total} account${meta.total === 1 ? '' : 's'}`}
            </span>
          </>
        )}
      </p>

      <search className="users-search" aria-label="Users">
        <form
          className="field"
          onSubmit={(e) => {
            e.preventDefault();
            update({ q: text.trim() || undefined, page: undefined });
          }}
        >
          <label htmlFor="users-q">Search users</label>
          <input
            id="users-q"
            type="search"
            value={text}
            onChange={(e) => setText(e.target.value)}
            placeholder="Part of a name or email"
            autoComplete="off"
            spellCheck={false}
            maxLength={254}
          />
        </form>
      </search>
      {/* Said to a screen reader when a search has been answered. */}
      <div className="sr-only" role="status">
        {searched && !updating ? `${meta?.total ?? 0} user${meta?.total === 1 ? '' : 's'} found` : ''}
      </div>

      {users.isPending && <div className="spinner" role="status" aria-label="Loading users" />}
      {users.isError && (
        <div className="form-error report-error" role="alert">
          {`The users could not be loaded: ${messageOf(users.error)}`}
          <span className="row wrap">
            <button type="button" className="btn" onClick={() => users.refetch()}>
              Try again
            </button>
          </span>
        </div>
      )}

      {data && data.data.length === 0 && (
        <div className="empty empty-compact">
          <h2 className="report-empty-title">{q ? 'No user matches' : 'No users'}</h2>
          {q && (
            <>
              <p>Nobody’s name or email contains “{q}”.</p>
              <button
                type="button"
                className="btn"
                onClick={() => {
                  setText('');
                  update({ q: undefined, page: undefined });
                }}
              >
                Clear the search
              </button>
            </>
          )}
        </div>
      )}

      {data && data.data.length > 0 && (
        <div className={`ops-card users-card report-body${updating ? ' updating' : ''}`}>
          <ul className="item-list user-list" aria-label={q ? `Users matching “${q}”` : 'Users'}>
            {data.data.map((u) => (
              <UserItem key={u.id} user={u} self={u.id === me.data?.id} />
            ))}
          </ul>
        </div>
      )}

      {meta && meta.total_pages > 1 && (
        <nav className="pager" aria-label="Pages of users">
          <button
            type="button"
            className="btn"
            disabled={page <= 1}
            onClick={() => {
              update({ page: page - 1 > 1 ? String(page - 1) : undefined });
              heading.current?.focus();
            }}
          >
            Previous
          </button>
          <span className="faint">
            Page {meta.page} of {meta.total_pages}
          </span>
          <button
            type="button"
            className="btn"
            disabled={page >= meta.total_pages}
            onClick={() => {
              update({ page: String(page + 1) });
              heading.current?.focus();
            }}
          >
            Next
          </button>
        </nav>
      )}
    </section>
  );
}

type Change = 'disable' | 'enable' | 'promote' | 'demote';

const DONE: Record<Change, (name: string) => string> = {
  disable: (n) => `${n} is disabled: signed out everywhere, API keys stopped`,
  enable: (n) => `${n} can sign in again`,
  promote: (n) => `${n} is now an admin`,
  demote: (n) => `${n} is no longer an admin`,
};

function UserItem({ user: u, self }: { user: User; self: boolean }) {
  const qc = useQueryClient();
  const [confirm, setConfirm] = useState<Change>();
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<string>();
  const actions = useRef<HTMLDivElement>(null);
  const titleId = `user-${u.id}`;
  const disabled = u.disabled_at !== null;

  const backToActions = () =>
    requestAnimationFrame(() => actions.current?.querySelector<HTMLElement>('button, a')?.focus());

  async function apply(change: Change) {
    const body: { disabled?: boolean; role?: Role } =
      change === 'disable'
        ? { disabled: true }
        : change === 'enable'
          ? { disabled: false }
          : { role: change === 'promote' ? 'admin' : 'user' };
    setBusy(true);
    setProblem(undefined);
    try {
      const updated = await updateUser(u.id, body);
      // Every page that shows this account shows it changed, before the lists are asked again.
      qc.setQueriesData<UserPage>({ queryKey: ['admin', 'users'] }, (page) =>
        page ? { ...page, data: page.data.map((x) => (x.id === updated.id ? updated : x)) } : page,
      );
      void qc.invalidateQueries({ queryKey: ['admin'] });
      setConfirm(undefined);
      toast.show(DONE[change](updated.name));
      backToActions();
    } catch (err) {
      // A 409 (one's own account), a 403 (no longer an admin), a 404 (deleted meanwhile): said in the row.
      setProblem(`Not changed: ${messageOf(err)}`);
      if (err instanceof TaskmanError && err.status === 404)
        void qc.invalidateQueries({ queryKey: ['admin', 'users'] });
    } finally {
      setBusy(false);
    }
  }

  const ask = (change: Change) => {
    setProblem(undefined);
    setConfirm(change);
  };
  const cancel = () => {
    setProblem(undefined);
    setConfirm(undefined);
    backToActions();
  };

  return (
    <li className={`item user-item${disabled ? ' item-off' : ''}`} aria-labelledby={titleId}>
      <div className="item-head">
        <div className="item-main">
          <div className="item-title-row">
            <span className="item-title" id={titleId}>
              {u.name}
            </span>
            {self && <span className="chip">You</span>}
            {disabled ? (
              <span className="badge badge-danger">Disabled</span>
            ) : (
              <span className="badge badge-succeeded">Active</span>
            )}
          </div>
          <div className="item-meta">
            <span className="user-email">{u.email}</span>
            <span>
              <span className="sr-only">Role: </span>
              {u.role === 'admin' ? <strong className="user-role">Admin</strong> : 'User'}
            </span>
            <span>
              Joined <When iso={u.created_at} />
            </span>
            {u.disabled_at && (
              <span>
                Disabled <When iso={u.disabled_at} />
              </span>
            )}
          </div>
        </div>
        {!confirm && (
          <div className="row wrap item-actions user-actions" ref={actions}>
            <Link to={actorLog(u.id)} className="btn" aria-describedby={titleId}>
              View activity
            </Link>
            {!self && (
              <>
                {u.role === 'admin' ? (
                  <button
                    type="button"
                    className="btn"
                    disabled={busy}
                    aria-describedby={titleId}
                    onClick={() => ask('demote')}
                  >
                    Remove admin
                  </button>
                ) : (
                  <button
                    type="button"
                    className="btn"
                    disabled={busy}
                    aria-describedby={titleId}
                    onClick={() => ask('promote')}
                  >
                    Make admin
                  </button>
                )}
                {disabled ? (
                  <button
                    type="button"
                    className="btn"
                    disabled={busy}
                    aria-describedby={titleId}
                    onClick={() => apply('enable')}
                  >
                    Enable
                  </button>
                ) : (
                  <button
                    type="button"
                    className="btn btn-danger"
                    disabled={busy}
                    aria-describedby={titleId}
                    onClick={() => ask('disable')}
                  >
                    Disable
                  </button>
                )}
              </>
            )}
          </div>
        )}
      </div>
      {self && !confirm && (
        <p className="faint user-note">
          This is you: another admin can disable your account or remove your role.
        </p>
      )}
      {problem && (
        <p className="form-error" role="alert">
          {problem}
        </p>
      )}
      {confirm === 'disable' && (
        <ConfirmBox
          danger
          question={`Disable ${u.name}?`}
          confirmLabel="Disable account"
          busy={busy}
          onConfirm={() => apply('disable')}
          onCancel={cancel}
        >
          {u.name} is signed out everywhere at once and their API keys stop working. They cannot sign in until
          an admin enables the account again; their tasks and projects are kept.
        </ConfirmBox>
      )}
      {confirm === 'promote' && (
        <ConfirmBox
          question={`Make ${u.name} an admin?`}
          confirmLabel="Make admin"
          busy={busy}
          onConfirm={() => apply('promote')}
          onCancel={cancel}
        >
          They will see the operations dashboard, every account and the audit log, and can disable accounts
          and change roles, yours included.
        </ConfirmBox>
      )}
      {confirm === 'demote' && (
        <ConfirmBox
          question={`Remove ${u.name}’s admin role?`}
          confirmLabel="Remove admin"
          busy={busy}
          onConfirm={() => apply('demote')}
          onCancel={cancel}
        >
          They keep their account, tasks and projects, but can no longer see the admin pages or change
          accounts.
        </ConfirmBox>
      )}
    </li>
  );
}
