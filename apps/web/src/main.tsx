import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { TaskmanError } from '@taskman/sdk';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { createBrowserRouter, Navigate, RouterProvider, useParams } from 'react-router';
import { AppShell } from './components/AppShell';
import { RequireSession } from './components/RequireSession';
import { SessionProvider } from './lib/session';
import { AuditPage } from './pages/AuditPage';
import { LoginPage, SignupPage, VerifyEmailPage } from './pages/AuthPages';
import { CalendarPage } from './pages/CalendarPage';
import { OperationsPage } from './pages/OperationsPage';
import { ProjectsPage } from './pages/ProjectsPage';
import { ReportsPage } from './pages/ReportsPage';
import { SettingsPage } from './pages/SettingsPage';
import { TasksPage } from './pages/TasksPage';
import { UsersPage } from './pages/UsersPage';
import './styles.css';

const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      staleTime: 15_000,
      // A 4xx will not change by asking again; a network blip might.
      retry: (count, err) => !(err instanceof TaskmanError && err.status < 500) && count < 2,
      networkMode: 'offlineFirst',
    },
    mutations: { networkMode: 'offlineFirst' },
  },
});

function OpenTask() {
  const { taskId } = useParams();
  return <Navigate to={`/tasks?task=${encodeURIComponent(taskId ?? '')}`} replace />;
}

const router = createBrowserRouter([
  { path: '/login', element: <LoginPage /> },
  { path: '/signup', element: <SignupPage /> },
  { path: '/verify-email', element: <VerifyEmailPage /> },
  {
    element: (
      <RequireSession>
        <AppShell />
      </RequireSession>
    ),
    children: [
      { path: '/', element: <Navigate to="/today" replace /> },
      { path: '/today', element: <TasksPage view="today" /> },
      { path: '/upcoming', element: <TasksPage view="upcoming" /> },
      { path: '/overdue', element: <TasksPage view="overdue" /> },
      { path: '/tasks', element: <TasksPage view="all" /> },
      // The link of a reminder email: the task, open in the panel over all tasks.
      { path: '/tasks/:taskId', element: <OpenTask /> },
      { path: '/archived', element: <TasksPage view="archived" /> },
      { path: '/projects', element: <ProjectsPage /> },
      { path: '/projects/:projectId', element: <TasksPage view="project" /> },
      { path: '/calendar', element: <CalendarPage /> },
      { path: '/reports', element: <ReportsPage /> },
      { path: '/settings', element: <SettingsPage /> },
      // Admins only (the pages say so to others). Users and the audit log are not under /admin/:
      // the server keeps that path for itself (Bull Board), so a reload there would not get the app.
      { path: '/admin', element: <OperationsPage /> },
      { path: '/users', element: <UsersPage /> },
      { path: '/audit', element: <AuditPage /> },
      { path: '*', element: <Navigate to="/today" replace /> },
    ],
  },
]);

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <QueryClientProvider client={queryClient}>
      <SessionProvider>
        <RouterProvider router={router} />
      </SessionProvider>
    </QueryClientProvider>
  </StrictMode>,
);

// The service worker (installable app, offline shell and last loaded data).
if ('serviceWorker' in navigator && import.meta.env.PROD) {
  import('virtual:pwa-register').then(({ registerSW }) => registerSW({ immediate: true }));
}
