import type { User } from '@taskman/sdk';
import { useState } from 'react';
import { messageOf } from '../lib/api';
import { ACTION_FAMILIES, ACTIVITY_LIMIT, useMyActivity, useUserNames } from '../lib/audit';
import { AuditList } from './AuditList';

/**
 * Settings › Recent activity (id="activity"): the account's last entries of the audit log — its
 * sign-ins, failed ones included (someone trying its email), changes to it, an admin's actions on it,
 * and what the user did — each with where it came from. Failed sign-ins stand out.
 */
export function ActivitySection({ user }: { user: User }) {
  const [action, setAction] = useState('');
  const activity = useMyActivity(action || undefined);
  // An admin's own actions name the accounts they changed.
  const names = useUserNames(user.role === 'admin');
  const entries = activity.data?.data ?? [];
  const meta = activity.data?.meta;
  const failed = entries.filter((e) => e.action === 'auth.login_failed' && e.actor_id === null).length;

  return (
    <section className="settings-section stack" aria-labelledby="activity-title" id="activity">
      <div className="section-head">
        <h2 id="activity-title" tabIndex={-1}>
          Recent activity
        </h2>
        <select
          className="deliveries-filter activity-filter"
          aria-label="Show activity"
          value={action}
          onChange={(e) => setAction(e.target.value)}
        >
          <option value="">All activity</option>
          {ACTION_FAMILIES.map((f) => (
            <option key={f.value} value={f.value}>
              {f.label}
            </option>
          ))}
        </select>
      </div>
      <p className="muted section-intro">
        Sign-ins to your account (failed ones too), changes to it and what you did, newest first, with the IP
        address and browser each came from. If something was not you, change your password.
      </p>
      {failed > 0 && (
        <div className="notice notice-danger activity-alert">
          <div>
            <strong>
              {failed} failed sign-in{failed === 1 ? '' : 's'} to your account
            </strong>{' '}
            {failed === 1 ? 'is' : 'are'} among these. If it was not you, someone may be trying to guess your
            password: make sure it is long and used nowhere else.
          </div>
        </div>
      )}
      {activity.isPending && <div className="spinner" role="status" aria-label="Loading your activity" />}
      {activity.isError && (
        <p className="form-error" role="alert">
          {messageOf(activity.error)}
        </p>
      )}
      {activity.data && entries.length === 0 && (
        <p className="faint">{action ? 'Nothing of this kind yet.' : 'Nothing recorded yet.'}</p>
      )}
      {entries.length > 0 && (
        <div className={`report-body${activity.isFetching && activity.isPlaceholderData ? ' updating' : ''}`}>
          <AuditList
            entries={entries}
            view={{ kind: 'self', userId: user.id, nameOf: names.nameOf }}
            level={3}
          />
        </div>
      )}
      {meta && meta.total > entries.length && (
        <p className="faint">
          The last {ACTIVITY_LIMIT} of {meta.total}.
        </p>
      )}
    </section>
  );
}
