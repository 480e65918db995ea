import { useQuery, useQueryClient } from '@tanstack/react-query';
import type { Session, User } from '@taskman/sdk';
import { unwrap } from '@taskman/sdk';
import { createContext, type ReactNode, useCallback, useContext, useEffect, useMemo, useState } from 'react';
import { api, forgetSession, loadSession, onSessionChange, type StoredSession, saveSession } from './api';
import { startLive, stopLive } from './live';

interface SessionContext {
  session: StoredSession | undefined;
  signIn(session: Session): void;
  signOut(): Promise<void>;
}

const Ctx = createContext<SessionContext | undefined>(undefined);

export function SessionProvider({ children }: { children: ReactNode }) {
  const [session, setSession] = useState(loadSession);
  const queryClient = useQueryClient();
  useEffect(() => onSessionChange(() => setSession(loadSession())), []);
  // When the session ends, nothing of this user's data stays in memory.
  useEffect(() => {
    if (!session) queryClient.clear();
  }, [session, queryClient]);
  // Signed in: changes made elsewhere (other tabs, devices, the API) show here as they happen.
  const signedIn = session?.token;
  useEffect(() => (signedIn ? startLive(queryClient) : undefined), [signedIn, queryClient]);

  const signIn = useCallback(
    (s: Session) => {
      queryClient.clear();
      saveSession({ token: s.token, expiresAt: s.expires_at });
    },
    [queryClient],
  );
  const signOut = useCallback(async () => {
    stopLive();
    await api.POST('/api/v1/auth/logout').catch(() => {});
    // A deliberate sign-out leaves nothing typed behind for the next person (a forced one keeps it).
    for (const key of Object.keys(sessionStorage))
      if (key.startsWith('taskman.draft.')) sessionStorage.removeItem(key);
    await forgetSession();
  }, []);
  const value = useMemo(() => ({ session, signIn, signOut }), [session, signIn, signOut]);
  return <Ctx.Provider value={value}>{children}</Ctx.Provider>;
}

export function useSession(): SessionContext {
  const ctx = useContext(Ctx);
  if (!ctx) throw new Error('useSession outside SessionProvider');
  return ctx;
}

/** The signed-in user's profile (time zone, reminder lead time, role). */
export function useMe() {
  return useQuery({ queryKey: ['me'], queryFn: () => unwrap(api.GET('/api/v1/users/me')) });
}

export function useTimeZone(): string {
  const me = useMe();
  return me.data?.timezone ?? Intl.DateTimeFormat().resolvedOptions().timeZone;
}

export type { User };
