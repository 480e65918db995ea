// Toasts: short messages at the bottom, some with an action (Undo). A tiny store, no library.
import { useSyncExternalStore } from 'react';

export interface Toast {
  id: number;
  message: string;
  kind: 'info' | 'error';
  action?: { label: string; run: () => void };
  onClose?: () => void;
}

let toasts: Toast[] = [];
let nextId = 1;
const listeners = new Set<() => void>();
const emit = () => {
  for (const l of listeners) l();
};

function dismiss(id: number): void {
  const t = toasts.find((x) => x.id === id);
  toasts = toasts.filter((x) => x.id !== id);
  emit();
  t?.onClose?.();
}

function push(t: Omit<Toast, 'id'>, ms: number): number {
  const id = nextId++;
  // At most four at once: the oldest make way, and run what their closing does (e.g. a pending delete).
  const dropped = toasts.slice(0, Math.max(0, toasts.length - 3));
  toasts = [...toasts.slice(-3), { ...t, id }];
  emit();
  for (const old of dropped) old.onClose?.();
  setTimeout(() => dismiss(id), ms);
  return id;
}

export const toast = {
  show(message: string, opts: { action?: Toast['action']; onClose?: () => void } = {}) {
    return push({ message, kind: 'info', ...opts }, 5000);
  },
  error(message: string) {
    return push({ message, kind: 'error' }, 7000);
  },
  /** Runs the toast's action and closes it. */
  act(id: number) {
    toasts.find((x) => x.id === id)?.action?.run();
    dismiss(id);
  },
  dismiss,
};

export function useToasts(): Toast[] {
  return useSyncExternalStore(
    (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    () => toasts,
  );
}
