import { useEffect, useState } from 'react';
import { NavLink, Outlet, useLocation, useNavigate, useSearchParams } from 'react-router';
import { TOUCH } from '../lib/device';
import { useLiveStatus } from '../lib/live';
import { useProjects, useViewCounts } from '../lib/queries';
import { useMe, useSession } from '../lib/session';
import { useShortcuts } from '../lib/shortcuts';
import { OfflineBanner } from './OfflineBanner';
import { ShortcutsHelp } from './ShortcutsHelp';
import { Toasts } from './Toasts';

const VIEWS = [
  { to: '/today', label: 'Today', key: '1' },
  { to: '/upcoming', label: 'Upcoming', key: '2' },
  { to: '/overdue', label: 'Overdue', key: '3' },
  { to: '/tasks', label: 'All tasks', key: '4' },
  { to: '/calendar', label: 'Calendar', key: '5' },
  { to: '/archived', label: 'Archived', key: '6' },
  { to: '/reports', label: 'Reports', key: '7' },
];

export function AppShell() {
  const { signOut } = useSession();
  const projects = useProjects();
  const navigate = useNavigate();
  const location = useLocation();
  const [searchParams] = useSearchParams();
  const [menuOpen, setMenuOpen] = useState(false);
  const counts = useViewCounts();
  const [help, setHelp] = useState(false);
  const live = useLiveStatus();
  const admin = useMe().data?.role === 'admin';

  // A navigation closes the phone menu.
  // biome-ignore lint/correctness/useExhaustiveDependencies: runs on every location change on purpose
  useEffect(() => setMenuOpen(false), [location.pathname]);

  useShortcuts({
    '?': () => setHelp((h) => !h),
    'g t': () => navigate('/today'),
    'g u': () => navigate('/upcoming'),
    'g o': () => navigate('/overdue'),
    'g a': () => navigate('/tasks'),
    'g c': () => navigate('/calendar'),
    'g p': () => navigate('/projects'),
    'g r': () => navigate('/reports'),
    'g s': () => navigate('/settings'),
    // Admins only: for others the keys do nothing (the page would only say it is not for them).
    ...(admin ? { 'g d': () => navigate('/admin') } : {}),
    escape: () => {
      setHelp(false);
      setMenuOpen(false);
    },
  });

  return (
    <div className="shell">
      <nav id="main-menu" className={`sidebar${menuOpen ? ' open' : ''}`} aria-label="Main">
        <div className="brand">
          <img src="/favicon.svg" alt="" width={26} height={26} /> Taskman
          {live === 'live' && (
            <span
              className="live-dot"
              role="img"
              aria-label="Live updates on"
              title="Live: changes made elsewhere show here at once"
            />
          )}
          <span className="spacer" />
          <button
            type="button"
            className="btn btn-ghost btn-icon menu-close"
            aria-label="Close the menu"
            onClick={() => setMenuOpen(false)}
          >
            ✕
          </button>
        </div>
        {VIEWS.map((v) => (
          <NavLink key={v.to} to={v.to} className="nav-link">
            {v.label}
            {v.to === '/today' && counts.today > 0 && <span className="nav-count">{counts.today}</span>}
            {v.to === '/overdue' && counts.overdue > 0 && (
              <span className="nav-count due-overdue">
                <span className="sr-only"> </span>
                {counts.overdue}
              </span>
            )}
          </NavLink>
        ))}
        <div className="nav-section row">
          <span>Projects</span>
          <span className="spacer" />
          <NavLink to="/projects" className="faint manage-link" aria-label="Manage projects">
            Manage
          </NavLink>
        </div>
        {projects.data?.length === 0 && (
          <p className="faint" style={{ padding: '0 8px' }}>
            No projects yet.
          </p>
        )}
        {projects.data?.map((p) => (
          <NavLink key={p.id} to={`/projects/${p.id}`} className="nav-link">
            <span aria-hidden="true">#</span> {p.name}
          </NavLink>
        ))}
        <div className="spacer" />
        {admin && (
          <>
            <NavLink to="/admin" className="nav-link">
              Operations
            </NavLink>
            <NavLink to="/users" className="nav-link">
              Users
            </NavLink>
            <NavLink to="/audit" className="nav-link">
              Audit log
            </NavLink>
          </>
        )}
        <NavLink to="/settings" className="nav-link">
          Settings
        </NavLink>
        <button type="button" className="nav-link" onClick={() => signOut()}>
          Log out
        </button>
        {!TOUCH && (
          <button type="button" className="nav-link" onClick={() => setHelp(true)}>
            Keyboard shortcuts <span className="kbd">?</span>
          </button>
        )}
      </nav>
      {menuOpen && (
        <div
          className="overlay"
          style={{ zIndex: 25 }}
          onClick={() => setMenuOpen(false)}
          aria-hidden="true"
        />
      )}
      <div className="main">
        <OfflineBanner />
        <div className="topbar">
          <button
            type="button"
            className="btn btn-ghost btn-icon menu-button"
            aria-label={menuOpen ? 'Close the menu' : 'Open the menu'}
            aria-expanded={menuOpen}
            aria-controls="main-menu"
            onClick={() => setMenuOpen((open) => !open)}
          >
            ☰
          </button>
          <search style={{ flex: 1, maxWidth: 480 }}>
            <form
              className="row"
              onSubmit={(e) => {
                e.preventDefault();
                const q = String(new FormData(e.currentTarget).get('q') ?? '').trim();
                navigate(q ? `/tasks?q=${encodeURIComponent(q)}` : '/tasks');
              }}
            >
              <label className="sr-only" htmlFor="search">
                Search tasks
              </label>
              <input
                key={searchParams.get('q') ?? ''}
                id="search"
                name="q"
                type="search"
                placeholder={TOUCH ? 'Search tasks' : 'Search tasks  ( / )'}
                autoComplete="off"
                defaultValue={searchParams.get('q') ?? ''}
              />
            </form>
          </search>
        </div>
        <Outlet />
      </div>
      {help && <ShortcutsHelp admin={admin} onClose={() => setHelp(false)} />}
      <Toasts />
    </div>
  );
}
