import { type ReactNode, useId } from 'react';
import { Link } from 'react-router';
import { messageOf } from '../lib/api';
import { isForbidden } from '../lib/dashboard';

/**
 * What an admin page shows before its own content, or undefined once the caller is a known admin
 * whom the server has not refused: loading, the profile's error, or "Admins only" (with `why` for
 * someone who is not an admin). `error`: the page's main query's error (a 403 from the server).
 */
export function adminGate(
  title: string,
  me: { isPending: boolean; isError: boolean; error: unknown; data?: { role: string } | undefined },
  error: unknown,
  why: ReactNode,
): ReactNode | undefined {
  if (me.isPending)
    return (
      <section className="content" aria-label={title}>
        <div className="spinner" role="status" aria-label="Loading" />
      </section>
    );
  if (me.isError)
    return (
      <section className="content" aria-label={title}>
        <p className="form-error" role="alert">
          {messageOf(me.error)}
        </p>
      </section>
    );
  const admin = me.data?.role === 'admin';
  if (!admin || isForbidden(error))
    return (
      <AdminsOnly title={title} reason={admin ? messageOf(error) : undefined}>
        {why}
      </AdminsOnly>
    );
  return undefined;
}

/**
 * An admin page for someone who is not an admin (or an admin the server refuses): said plainly, with
 * a way back. `reason`: the server's words (e.g. from an address ADMIN_IP_ALLOWLIST leaves out).
 */
export function AdminsOnly(props: { title: string; reason: string | undefined; children: ReactNode }) {
  const titleId = useId();
  return (
    <section className="content ops" aria-labelledby={titleId}>
      <div className="page-head">
        <h1 id={titleId}>{props.title}</h1>
      </div>
      <div className="empty empty-compact ops-denied">
        <LockIcon />
        <h2 className="report-empty-title">Admins only</h2>
        {props.reason ? <p>{props.reason.replace(/\.?$/, '.')}</p> : <p>{props.children}</p>}
        <div className="row wrap center">
          <Link to="/today" className="btn btn-primary">
            Go to Today
          </Link>
        </div>
      </div>
    </section>
  );
}

function LockIcon() {
  return (
    <svg className="ops-lock" width="28" height="28" viewBox="0 0 24 24" aria-hidden="true" focusable="false">
      <rect
        x="5"
        y="10.5"
        width="14"
        height="10"
        rx="2"
        fill="none"
        stroke="currentColor"
        strokeWidth="1.6"
      />
      <path d="M8 10.5V7.5a4 4 0 0 1 8 0v3" fill="none" stroke="currentColor" strokeWidth="1.6" />
    </svg>
  );
}
