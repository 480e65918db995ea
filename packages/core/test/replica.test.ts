import { describe, expect, it } from 'vitest';
import { parseLsn, replicaLag } from '../src/db/replica';

const s = (at: number, lsn: string) => ({ at, lsn: parseLsn(lsn) });

describe('replica lag from WAL positions', () => {
  it('reads WAL positions as numbers (two 32-bit hexadecimal halves)', () => {
    expect(parseLsn('0/1000')).toBe(0x1000n);
    expect(parseLsn('1/0')).toBe(0x1_0000_0000n);
    expect(parseLsn('16/B374D848')).toBe((0x16n << 32n) + 0xb374d848n);
    expect(parseLsn('0/FF') < parseLsn('1/0')).toBe(true);
    expect(() => parseLsn('garbage')).toThrow(/not a WAL position/);
  });

  it('is the age of the newest primary position the replica has reached', () => {
    const samples = [s(1_000, '0/100'), s(1_500, '0/200'), s(2_000, '0/300')];
    // Caught up with the newest sample: behind only by the time since it was taken.
    expect(replicaLag(samples, parseLsn('0/300'), 2_010, false)).toBe(10);
    expect(replicaLag(samples, parseLsn('0/350'), 2_010, false)).toBe(10);
    // Between two samples: it has everything before the older one, maybe not what came after.
    expect(replicaLag(samples, parseLsn('0/2FF'), 2_010, false)).toBe(510);
    expect(replicaLag(samples, parseLsn('0/100'), 2_010, false)).toBe(1_010);
  });

  it('is unknown — too far — when the replica has reached no remembered position', () => {
    // Right after a process starts, a replica far behind must not pass for current.
    expect(replicaLag([s(1_000, '0/1000')], parseLsn('0/10'), 1_001, false)).toBeUndefined();
    expect(replicaLag([], parseLsn('0/10'), 1_001, false)).toBeUndefined();
  });

  it('with the primary unreachable, a replica that has the last position seen is current', () => {
    const samples = [s(1_000, '0/100'), s(1_500, '0/200')];
    expect(replicaLag(samples, parseLsn('0/200'), 9_000, true)).toBe(0);
    // One that had not caught up stays as far behind as it was.
    expect(replicaLag(samples, parseLsn('0/150'), 9_000, true)).toBe(8_000);
    expect(replicaLag(samples, parseLsn('0/200'), 9_000, false)).toBe(7_500);
  });
});
