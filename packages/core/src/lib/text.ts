/** Length in characters (Unicode code points), as PostgreSQL's char_length and JSON Schema count. */
export const charLength = (s: string): number => {
  let n = 0;
  for (const _ of s) n++;
  return n;
};
