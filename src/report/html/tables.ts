/** The report's tables: one row per step or kept image, cells as the page shows and sorts them. */
import type { Plan } from '../../plan/types.js';
import { keptText } from '../kept-text.js';
import type { ImageTimes } from './data.js';

export type Cell = string | number | null | string[];

export interface Table {
  key: string;
  title: string;
  columns: { name: string; type: 'id' | 'text' | 'refs' | 'bytes' | 'time' }[];
  rows: Cell[][];
}

const bare = (id: string) => (id.startsWith('sha256:') ? id.slice(7) : id);

/** An image's tags, or its digests when it has none, as the text report lists them (digests follow their tags). */
export function shownRefs(refs: readonly string[]): string[] {
  const tags = refs.filter((r) => !r.includes('@'));
  return tags.length > 0 ? tags : [...refs];
}

const CACHE_REASON = { 'unused-for': 'unusedFor', 'keep-bytes': 'keepBytes', disk: 'disk budget' } as const;

/** The tables of steps and kept images; with image times, their ages and sizes too. */
export function planTables(plan: Plan, images: ReadonlyMap<string, ImageTimes> | undefined): Table[] {
  const times = (id: string): Cell[] => {
    const t = images?.get(id);
    return images ? [t?.createdMs ?? null, t?.lastUsedMs ?? null] : [];
  };
  const timeCols = images
    ? ([
        { name: 'Created', type: 'time' },
        { name: 'Last used', type: 'time' },
      ] as const)
    : [];
  const of = (type: string) => plan.actions.filter((a) => a.type === type);
  const out: Table[] = [
    {
      key: 'deletes',
      title: 'Delete',
      columns: [
        { name: 'Image', type: 'id' },
        { name: 'References', type: 'refs' },
        { name: 'Rule', type: 'text' },
        { name: 'Est. size', type: 'bytes' },
        ...timeCols,
      ],
      rows: of('delete').map((a) => [
        bare(a.imageId),
        shownRefs(a.refs ?? []),
        a.rule,
        a.bytes ?? null,
        ...times(a.imageId),
      ]),
    },
    {
      key: 'untags',
      title: 'Untag',
      columns: [
        { name: 'Reference', type: 'text' },
        { name: 'Image', type: 'id' },
        { name: 'Rule', type: 'text' },
      ],
      rows: of('untag').map((a) => [a.ref ?? '', bare(a.imageId), a.rule]),
    },
    {
      key: 'containers',
      title: 'Remove stopped containers',
      columns: [
        { name: 'Container', type: 'id' },
        { name: 'Image', type: 'id' },
        { name: 'Rule', type: 'text' },
      ],
      rows: of('remove-container').map((a) => [a.containerId ?? '', bare(a.imageId), a.rule]),
    },
    {
      key: 'kept',
      title: 'Kept',
      columns: [
        { name: 'Image', type: 'id' },
        { name: 'References', type: 'refs' },
        { name: 'Why', type: 'text' },
        ...(images ? ([{ name: 'Size', type: 'bytes' }] as const) : []),
        ...timeCols,
      ],
      rows: plan.kept.map((k) => [
        bare(k.imageId),
        shownRefs(k.refs),
        keptText(k),
        ...(images ? [images.get(k.imageId)?.size ?? null] : []),
        ...times(k.imageId),
      ]),
    },
  ];
  const cache = plan.buildCache;
  if (cache && cache.remove.length > 0)
    out.push({
      key: 'cache',
      title: 'Remove build-cache records',
      columns: [
        { name: 'Record', type: 'id' },
        { name: 'Type', type: 'text' },
        { name: 'Size', type: 'bytes' },
        { name: 'Last used', type: 'time' },
        { name: 'By', type: 'text' },
        { name: 'Description', type: 'text' },
      ],
      rows: cache.remove.map((r) => [
        r.id,
        r.type,
        r.size,
        Date.parse(r.lastUsedAt),
        CACHE_REASON[r.reason],
        r.description,
      ]),
    });
  return out;
}
