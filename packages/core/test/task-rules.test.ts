import { describe, expect, it } from 'vitest';
import { toPrefixQuery } from '../src/repositories/task.repository';

describe('toPrefixQuery', () => {
  it('turns words into prefix terms joined with AND', () => {
    expect(toPrefixQuery('Buy mil')).toBe('buy:* & mil:*');
  });
  it('keeps only letters and digits, so tsquery syntax cannot be injected', () => {
    expect(toPrefixQuery("a' | !b & (c):*")).toBe('a:* & b:* & c:*');
    expect(toPrefixQuery('!!! ::: &')).toBeUndefined();
  });
  it('handles non-Latin scripts', () => {
    expect(toPrefixQuery('Größe 日本')).toBe('größe:* & 日本:*');
  });
});
