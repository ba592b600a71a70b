import { homedir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { defaultStateDir } from '../src/state-dir.js';

describe('defaultStateDir', () => {
  it('root: /var/lib/imgsweep, whatever the environment says', () => {
    expect(defaultStateDir({}, 0)).toBe('/var/lib/imgsweep');
    expect(defaultStateDir({ XDG_STATE_HOME: '/srv/state', HOME: '/root' }, 0)).toBe('/var/lib/imgsweep');
  });

  it('non-root with XDG_STATE_HOME: $XDG_STATE_HOME/imgsweep', () => {
    expect(defaultStateDir({ XDG_STATE_HOME: '/home/ci/.state', HOME: '/home/ci' }, 1000)).toBe(
      '/home/ci/.state/imgsweep',
    );
  });

  it('non-root without XDG_STATE_HOME: ~/.local/state/imgsweep', () => {
    expect(defaultStateDir({ HOME: '/home/ci' }, 1000)).toBe('/home/ci/.local/state/imgsweep');
  });

  it('an empty or relative XDG_STATE_HOME is ignored, as the XDG spec says', () => {
    expect(defaultStateDir({ XDG_STATE_HOME: '', HOME: '/home/ci' }, 1000)).toBe('/home/ci/.local/state/imgsweep');
    expect(defaultStateDir({ XDG_STATE_HOME: 'state', HOME: '/home/ci' }, 1000)).toBe('/home/ci/.local/state/imgsweep');
  });

  it('without HOME in the environment: the account home directory', () => {
    expect(defaultStateDir({}, 1000)).toBe(`${homedir()}/.local/state/imgsweep`);
  });

  it('no uid (a platform without getuid) counts as non-root', () => {
    expect(defaultStateDir({ HOME: '/Users/me' }, null)).toBe('/Users/me/.local/state/imgsweep');
  });

  it('defaults to the process uid', () => {
    const expected = process.getuid?.() === 0 ? '/var/lib/imgsweep' : '/home/x/.local/state/imgsweep';
    expect(defaultStateDir({ HOME: '/home/x' })).toBe(expected);
  });
});
