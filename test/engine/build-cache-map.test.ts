import { describe, expect, it } from 'vitest';
import { mapBuildCache } from '../../src/engine/map.js';

describe("/system/df's BuildCache", () => {
  it('maps each record; a record without LastUsedAt (a build under way) keeps null; nanoseconds are cut', () => {
    const records = mapBuildCache(
      [
        {
          ID: 'k7x2m9',
          Parent: 'p0q1r2',
          Type: 'exec.cachemount',
          Description: 'cached mount /cache from exec /bin/sh -c make',
          InUse: false,
          Shared: false,
          Size: 4096,
          CreatedAt: '2026-12-01T10:00:00.123456789Z',
          LastUsedAt: '2026-12-02T09:30:00Z',
          UsageCount: 3,
        },
        {
          ID: 'a1',
          Parents: ['b2', 'c3'],
          Type: 'regular',
          InUse: true,
          Shared: true,
          Size: 10,
          CreatedAt: '2026-12-02T10:00:00Z',
          LastUsedAt: null,
        },
      ],
      'df.BuildCache',
    );
    expect(records).toEqual([
      {
        id: 'k7x2m9',
        parents: ['p0q1r2'],
        type: 'exec.cachemount',
        description: 'cached mount /cache from exec /bin/sh -c make',
        inUse: false,
        shared: false,
        size: 4096,
        createdAt: '2026-12-01T10:00:00.123Z',
        lastUsedAt: '2026-12-02T09:30:00.000Z',
        usageCount: 3,
      },
      {
        id: 'a1',
        parents: ['b2', 'c3'],
        type: 'regular',
        description: '',
        inUse: true,
        shared: true,
        size: 10,
        createdAt: '2026-12-02T10:00:00.000Z',
        lastUsedAt: null,
        usageCount: 0,
      },
    ]);
  });

  it('none: null on an engine that has built nothing', () => {
    expect(mapBuildCache(null, 'df.BuildCache')).toEqual([]);
  });

  it('refuses a record without an ID or a creation time, naming where', () => {
    expect(() => mapBuildCache([{ Type: 'regular' }], 'df.BuildCache')).toThrow(/df\.BuildCache\[0\]/);
    expect(() => mapBuildCache([{ ID: 'x', CreatedAt: 'yesterday' }], 'df.BuildCache')).toThrow(/CreatedAt/);
  });
});
