import { type Session, TaskmanError, unwrap } from '@taskman/sdk';
import { type FormEvent, useEffect, useRef, useState } from 'react';
import { Link, Navigate, useNavigate, useSearchParams } from 'react-router';
import { api, fieldError, messageOf } from '../lib/api';
import { useSession } from '../lib/session';

/** Only paths of this app: `next` must never send someone to another site. */
function safeNext(next: string | null): string {
  return next?.startsWith('/') && !next.startsWith('//') ? next : '/today';
}

/** A sign-up waiting for its email address to be confirmed (the server mails a link). */
interface Pending {
  status: 'confirmation_sent';
  email: string;
  message: string;
}

/**
 * A form that opens a session (log in, sign up): busy and error states, then on to `next` — or,
 * when the server confirms email addresses first, the address the link went to.
 */
function useSessionForm(
  next: string,
  request: (
    form: FormData,
  ) => Promise<{ data?: { data: Session | Pending }; error?: unknown; response: Response }>,
) {
  const { signIn } = useSession();
  const navigate = useNavigate();
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const [pending, setPending] = useState<Pending>();
  async function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    setBusy(true);
    setError(undefined);
    try {
      const result = await unwrap(request(form));
      if ('token' in result) {
        signIn(result);
        navigate(next, { replace: true });
      } else setPending(result);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }
  return { error, busy, submit, pending };
}

export function LoginPage() {
  const { session } = useSession();
  const [params] = useSearchParams();
  const next = safeNext(params.get('next'));
  const { error, busy, submit } = useSessionForm(next, (form) =>
    api.POST('/api/v1/auth/login', {
      body: { email: String(form.get('email')), password: String(form.get('password')) },
    }),
  );
  if (session) return <Navigate to={next} replace />;

  return (
    <main className="auth">
      <form className="card stack" onSubmit={submit} aria-labelledby="login-title">
        <div className="brand" aria-hidden="true">
          <img src="/favicon.svg" alt="" width={28} height={28} /> Taskman
        </div>
        <h1 id="login-title">Log in</h1>
        {params.get('next') && next !== '/today' && !error && (
          <p className="muted">Log in to carry on where you were.</p>
        )}
        {error !== undefined && (
          <p className="form-error" role="alert">
            {messageOf(error)}
          </p>
        )}
        <label className="field">
          Email
          <input name="email" type="email" autoComplete="email" required autoFocus />
        </label>
        <label className="field">
          Password
          <input name="password" type="password" autoComplete="current-password" required />
        </label>
        <button className="btn btn-primary" type="submit" disabled={busy}>
          {busy ? 'Logging in…' : 'Log in'}
        </button>
        <p className="muted">
          New here?{' '}
          <Link to={`/signup${params.get('next') ? `?next=${encodeURIComponent(next)}` : ''}`}>
            Create an account
          </Link>
        </p>
      </form>
    </main>
  );
}

export function SignupPage() {
  const { session } = useSession();
  const [params] = useSearchParams();
  const { error, busy, submit, pending } = useSessionForm(safeNext(params.get('next')), (form) =>
    api.POST('/api/v1/auth/register', {
      body: {
        name: String(form.get('name')),
        email: String(form.get('email')),
        password: String(form.get('password')),
        timezone: Intl.DateTimeFormat().resolvedOptions().timeZone,
      },
    }),
  );
  if (session) return <Navigate to="/today" replace />;
  if (pending) {
    return (
      <main className="auth">
        <section className="card stack" aria-labelledby="inbox-title">
          <div className="brand" aria-hidden="true">
            <img src="/favicon.svg" alt="" width={28} height={28} /> Taskman
          </div>
          <h1 id="inbox-title">Check your inbox</h1>
          <p role="status">
            We sent a link to <strong>{pending.email}</strong>. Open it within 24 hours to finish creating
            your account.
          </p>
          <p className="muted">
            No mail? Check the spam folder, or{' '}
            <Link to="/signup" reloadDocument>
              sign up again
            </Link>
            . Already have an account? <Link to="/login">Log in</Link>
          </p>
        </section>
      </main>
    );
  }

  const fe = (f: string) => fieldError(error, f);
  const fieldErrors = error instanceof TaskmanError && error.details.length > 0;
  return (
    <main className="auth">
      <form className="card stack" onSubmit={submit} aria-labelledby="signup-title">
        <div className="brand" aria-hidden="true">
          <img src="/favicon.svg" alt="" width={28} height={28} /> Taskman
        </div>
        <h1 id="signup-title">Create your account</h1>
        {error !== undefined && (
          <p className="form-error" role="alert">
            {fieldErrors ? 'Please check the fields marked below.' : messageOf(error)}
          </p>
        )}
        <label className="field">
          Name
          <input
            name="name"
            autoComplete="name"
            required
            maxLength={100}
            autoFocus
            aria-invalid={!!fe('name')}
          />
          {fe('name') && <span className="field-error">Name {fe('name')}</span>}
        </label>
        <label className="field">
          Email
          <input name="email" type="email" autoComplete="email" required aria-invalid={!!fe('email')} />
          {fe('email') && <span className="field-error">Email {fe('email')}</span>}
        </label>
        <label className="field">
          Password
          <input
            name="password"
            type="password"
            autoComplete="new-password"
            required
            minLength={8}
            aria-describedby="pw-hint"
            aria-invalid={!!fe('password')}
          />
          <span id="pw-hint" className="faint">
            At least 8 characters (72 bytes at most).
          </span>
          {fe('password') && <span className="field-error">Password {fe('password')}</span>}
        </label>
        <button className="btn btn-primary" type="submit" disabled={busy}>
          {busy ? 'Creating…' : 'Create account'}
        </button>
        <p className="muted">
          Already have an account? <Link to="/login">Log in</Link>
        </p>
      </form>
    </main>
  );
}

/** Where the confirmation mail's link leads: creates the account and signs in. */
export function VerifyEmailPage() {
  const { session, signIn } = useSession();
  const navigate = useNavigate();
  const [error, setError] = useState<unknown>();
  const started = useRef(false);
  useEffect(() => {
    if (started.current) return;
    started.current = true;
    // The token is in the fragment, which browsers never send to a server.
    const token = new URLSearchParams(window.location.hash.slice(1)).get('token') ?? '';
    window.history.replaceState(null, '', window.location.pathname);
    unwrap(api.POST('/api/v1/auth/verify-email', { body: { token } }))
      .then((s) => {
        signIn(s);
        navigate('/today', { replace: true });
      })
      .catch(setError);
  }, [signIn, navigate]);
  if (session && error === undefined) return <Navigate to="/today" replace />;
  return (
    <main className="auth">
      <section className="card stack" aria-labelledby="verify-title" aria-busy={error === undefined}>
        <div className="brand" aria-hidden="true">
          <img src="/favicon.svg" alt="" width={28} height={28} /> Taskman
        </div>
        <h1 id="verify-title">
          {error === undefined ? 'Confirming your email…' : 'This link does not work'}
        </h1>
        {error !== undefined && (
          <>
            <p className="form-error" role="alert">
              {error instanceof TaskmanError && error.status === 400
                ? 'It is invalid, was used already, or is more than 24 hours old.'
                : messageOf(error)}
            </p>
            <p className="muted">
              <Link to="/signup">Sign up again</Link> or <Link to="/login">log in</Link>.
            </p>
          </>
        )}
      </section>
    </main>
  );
}
