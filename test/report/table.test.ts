import { describe, expect, it } from 'vitest';
import { textTable } from '../../src/report/table.js';

describe('textTable', () => {
  it('pads columns to the widest cell, the last one unpadded', () => {
    expect(
      textTable(
        ['A', 'B'],
        [
          ['xyz', '1'],
          ['q', '22'],
        ],
      ),
    ).toBe('  A    B\n  xyz  1\n  q    22');
  });

  it('lays out a million rows (more than a call takes as arguments)', () => {
    const rows = Array.from({ length: 1_000_000 }, (_, i) => [`image-${i}`, 'kept']);
    const text = textTable(['Image', 'Why'], rows);
    expect(text.split('\n')).toHaveLength(1_000_001);
    expect(text.endsWith('  image-999999  kept')).toBe(true);
  });
});
