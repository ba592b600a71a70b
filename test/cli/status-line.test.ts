import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LiveProgress, StatusLine, StepProgress, formatElapsed, layerReadProgress } from '../../src/cli/status-line.js';

const CLEAR = '\r\x1b[K';

function terminal(columns: number | undefined = 80) {
  const out: string[] = [];
  const line = new StatusLine(
    (chunk) => out.push(chunk),
    () => columns,
  );
  return { out, line, screen: () => out.join('') };
}

describe('StatusLine', () => {
  it('draws in place, is cut to the width, and shows control characters as text', () => {
    const { line, screen } = terminal(30);
    line.set(`copying \x1b[31mred${'x'.repeat(40)}`);
    expect(screen().startsWith(CLEAR)).toBe(true);
    const text = screen().slice(CLEAR.length);
    expect(text).toHaveLength(29);
    expect(text.endsWith('…')).toBe(true);
    expect(text).not.toContain('\x1b');
  });

  it('a terminal of no size counts as 80 columns', () => {
    const { line, screen } = terminal(0);
    line.set('y'.repeat(200));
    expect(screen().slice(CLEAR.length)).toHaveLength(79);
  });

  it('text written meanwhile goes above it, and the line is drawn again under it', () => {
    const { line, out } = terminal();
    expect(line.around(() => (out.push('before\n'), true))).toBe(true);
    expect(out).toEqual(['before\n']);
    line.set('3/10 steps');
    out.length = 0;
    line.around(() => (out.push('done delete x\n'), true));
    expect(out).toEqual([CLEAR, 'done delete x\n', '3/10 steps']);
    out.length = 0;
    line.clear();
    expect(out).toEqual([CLEAR]);
    out.length = 0;
    line.around(() => (out.push('after\n'), true));
    expect(out).toEqual(['after\n']);
  });
});

describe('live progress', () => {
  beforeEach(() => vi.useFakeTimers({ now: 0 }));
  afterEach(() => vi.useRealTimers());

  it('formats elapsed time as m:ss, and h:mm:ss past an hour', () => {
    expect(formatElapsed(0)).toBe('0:00');
    expect(formatElapsed(61_500)).toBe('1:01');
    expect(formatElapsed(3_723_000)).toBe('1:02:03');
  });

  it('stays hidden for its delay, then draws and ticks each second, and clears at the end', () => {
    const { line, screen, out } = terminal();
    const p = new LiveProgress(line, (elapsed) => `working · ${elapsed}`, 1000);
    p.update();
    vi.advanceTimersByTime(900);
    expect(out).toEqual([]);
    vi.advanceTimersByTime(200);
    expect(screen()).toContain('working · 0:01');
    vi.advanceTimersByTime(2000);
    expect(screen()).toContain('working · 0:03');
    p.end();
    expect(screen().endsWith(CLEAR)).toBe(true);
    const drawn = out.length;
    vi.advanceTimersByTime(5000);
    expect(out).toHaveLength(drawn);
  });

  it('ending before the delay draws nothing', () => {
    const { line, out } = terminal();
    const p = layerReadProgress(line);
    p.update(0, 5);
    vi.advanceTimersByTime(500);
    p.update(5, 5);
    p.end();
    vi.advanceTimersByTime(5000);
    expect(out).toEqual([]);
  });

  it('layer reads past a second: images read of those to read', () => {
    const { line, screen } = terminal();
    const p = layerReadProgress(line);
    p.update(0, 40);
    vi.advanceTimersByTime(1200);
    p.update(12, 40);
    expect(screen()).toContain('reading image layers: 12/40 images · 0:01');
    p.end();
    expect(screen().endsWith(CLEAR)).toBe(true);
  });

  it("apply's line: steps done of all engines', bytes freed by the estimate, the newest step under way", () => {
    const { line, screen } = terminal(200);
    const p = new StepProgress(line);
    p.add(3);
    p.add(1);
    p.begin('a0', 'delete 0123456789ab app:1');
    expect(screen()).toContain('0/4 steps · 0 B freed (est.) · 0:00 · delete 0123456789ab app:1');
    p.begin('b0', '[other] untag app:2');
    expect(screen().endsWith('[other] untag app:2')).toBe(true);
    p.done('b0');
    p.done('a0', 1_500_000);
    expect(screen()).toMatch(/\[#{10} {10}\] 2\/4 steps · 1\.5 MB freed \(est\.\) · 0:00$/);
    p.begin('a1', 'delete fedcba987654');
    p.done('a1', null);
    expect(screen()).toContain('3/4 steps · 1.5 MB+ freed');
    p.end();
    expect(screen().endsWith(CLEAR)).toBe(true);
  });
});
