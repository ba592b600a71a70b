import { formatBytes } from '../report/bytes.js';
import type { LayerProgress } from '../live/read.js';
import { escapeControls } from '../report/escape.js';

/**
 * One line at the bottom of the terminal that long work redraws in place (apply's steps, layer reads). Text
 * written meanwhile goes above it: the line is cleared before each write and drawn again after. Plain code
 * rather than a progress-bar library: it is a carriage return, an erase-line sequence and a clock.
 */
export class StatusLine {
  private text = '';
  private shown = false;

  constructor(
    /** Writes to the terminal as is (no escaping: the sequences are the line's own). */
    private readonly raw: (chunk: string) => void,
    private readonly columns: () => number | undefined,
  ) {}

  /** Shows (or replaces) the line; cut to the terminal's width, since a wrapped line cannot be erased. */
  set(text: string): void {
    const width = Math.max(20, (this.columns() || 80) - 1);
    text = escapeControls(text);
    this.text = text.length > width ? `${text.slice(0, width - 1)}…` : text;
    this.raw(`\r\x1b[K${this.text}`);
    this.shown = true;
  }

  clear(): void {
    this.text = '';
    if (this.shown) this.raw('\r\x1b[K');
    this.shown = false;
  }

  /** Writes other text: above the line, which is drawn again under it. */
  around(write: () => boolean): boolean {
    if (!this.shown) return write();
    this.raw('\r\x1b[K');
    const ok = write();
    this.raw(this.text);
    return ok;
  }
}

/** Elapsed time as m:ss (h:mm:ss past an hour). */
export function formatElapsed(ms: number): string {
  const s = Math.floor(ms / 1000);
  const two = (n: number) => String(n).padStart(2, '0');
  return s >= 3600
    ? `${Math.floor(s / 3600)}:${two(Math.floor(s / 60) % 60)}:${two(s % 60)}`
    : `${Math.floor(s / 60)}:${two(s % 60)}`;
}

/**
 * Live progress of one piece of work on the status line: drawn once it has taken `delayMs`, redrawn on every
 * update and each second (for the clock), cleared when it ends. Without a status line it does nothing.
 */
export class LiveProgress {
  private readonly started: number;
  private timer: NodeJS.Timeout | null = null;
  private visible = false;
  private ended = false;

  constructor(
    private readonly line: StatusLine | undefined,
    private readonly render: (elapsed: string) => string,
    private readonly delayMs = 0,
    private readonly now: () => number = Date.now,
  ) {
    this.started = now();
    if (!line) return;
    this.timer = setInterval(() => this.tick(), Math.min(1000, Math.max(100, delayMs || 1000)));
    this.timer.unref();
  }

  /** Something changed: redraw (once the delay has passed). */
  update(): void {
    this.tick();
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.timer) clearInterval(this.timer);
    if (this.visible) this.line?.clear();
  }

  private tick(): void {
    if (!this.line || this.ended) return;
    const elapsed = this.now() - this.started;
    if (!this.visible && elapsed < this.delayMs) return;
    this.visible = true;
    this.line.set(this.render(formatElapsed(elapsed)));
  }
}

/** What apply's status line shows: steps done of all, bytes freed so far (the plan's estimate), the image at work. */
export class StepProgress {
  private count = 0;
  private total = 0;
  private bytes = 0;
  private estimated = true;
  private readonly running = new Map<string, string>();
  private readonly live: LiveProgress;

  constructor(line: StatusLine | undefined, now?: () => number) {
    this.live = new LiveProgress(line, (elapsed) => this.text(elapsed), 0, now);
  }

  /** Adds a plan's steps (several engines share one line). */
  add(steps: number): void {
    this.total += steps;
  }

  /** A step began: `what` names it (the newest one under way is shown). */
  begin(key: string, what: string): void {
    this.running.set(key, what);
    this.live.update();
  }

  /** A step ended; `bytes`: what a done delete freed by the plan's estimate (null: no estimate). */
  done(key: string, bytes?: number | null): void {
    this.running.delete(key);
    this.count++;
    if (bytes === null) this.estimated = false;
    else if (bytes !== undefined) this.bytes += bytes;
    this.live.update();
  }

  end(): void {
    this.live.end();
  }

  private text(elapsed: string): string {
    const width = 20;
    const filled = this.total === 0 ? 0 : Math.round((this.count / this.total) * width);
    const current = [...this.running.values()].at(-1);
    const freed = this.estimated ? `${formatBytes(this.bytes)} freed (est.)` : `${formatBytes(this.bytes)}+ freed`;
    return [
      `[${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${this.count}/${this.total} steps`,
      freed,
      elapsed,
      ...(current ? [current] : []),
    ].join(' · ');
  }
}

/** Layer reads on the status line, once they have taken a second (a big host's first plan reads thousands). */
export function layerReadProgress(line: StatusLine, now?: () => number): LayerProgress {
  let read = 0;
  let toRead = 0;
  let live: LiveProgress | null = null;
  return {
    update(r, t) {
      read = r;
      toRead = t;
      live ??= new LiveProgress(
        line,
        (elapsed) => `reading image layers: ${read}/${toRead} images · ${elapsed}`,
        1000,
        now,
      );
      live.update();
    },
    end() {
      live?.end();
    },
  };
}
