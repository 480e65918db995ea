// The quick-add parser and the recurrence helpers of the core, run in the browser: the same code the
// API runs for POST /tasks/parse and POST /tasks {text}, so what is highlighted is what gets created.
// Pure TypeScript over chrono-node and rrule (no Node-only module). Loaded on demand (see
// quickAdd.ts): it is a chunk of its own, kept out of the first load, and precached for offline use.
export { parseQuickAdd, type QuickAddResult } from '../../../../packages/core/src/quick-add/quick-add';
export { describeRecurrence, parseRecurrenceRule } from '../../../../packages/core/src/recurrence/recurrence';
