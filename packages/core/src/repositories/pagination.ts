export type SortOrder = 'asc' | 'desc';

export interface PageRequest {
  page: number;
  limit: number;
}

export interface Page<T> {
  items: T[];
  total: number;
}

export const offsetOf = (p: PageRequest): number => (p.page - 1) * p.limit;
