import { useEffect, useRef } from 'react';

/** True while typing in a field: shortcuts must not steal letters from a title. */
function typing(target: EventTarget | null): boolean {
  const el = target as HTMLElement | null;
  return !!el && (el.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(el.tagName));
}

/**
 * Keyboard shortcuts: single keys ("q", "?", "enter"), and two-key sequences ("g t") typed within a
 * second. Names are lower-case. Ignored while typing in a field, except Escape.
 */
export function useShortcuts(map: Record<string, () => void>): void {
  const ref = useRef(map);
  ref.current = map;
  useEffect(() => {
    let prefix = '';
    let timer: ReturnType<typeof setTimeout> | undefined;
    const onKey = (e: KeyboardEvent) => {
      if (e.metaKey || e.ctrlKey || e.altKey) return;
      if (e.key !== 'Escape' && typing(e.target)) return;
      const name = e.key.length > 1 ? e.key.toLowerCase() : e.key;
      const key = prefix ? `${prefix} ${name}` : name;
      const action = ref.current[key];
      if (action) {
        e.preventDefault();
        prefix = '';
        action();
        return;
      }
      if (!prefix && Object.keys(ref.current).some((k) => k.startsWith(`${name} `))) {
        prefix = name;
        clearTimeout(timer);
        timer = setTimeout(() => {
          prefix = '';
        }, 1000);
      } else prefix = '';
    };
    window.addEventListener('keydown', onKey);
    return () => {
      window.removeEventListener('keydown', onKey);
      clearTimeout(timer);
    };
  }, []);
}
