import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { mapImages } from '../../src/engine/map.js';
import { makePlan } from '../../src/plan/plan.js';
import { formatPlanText } from '../../src/report/plan-format.js';
import { validatorFor } from '../../src/validation/validators.js';
import { NOW, image, inventory, layered, policy } from '../support/builders.js';

describe('multi-platform images on the containerd store', () => {
  it("are one image with one ID; its platforms come from the listing's Manifests (attestations left out)", () => {
    const raw = JSON.parse(readFileSync('test/fixtures/engine-api/1.52/containerd/images-manifests.json', 'utf8')) as {
      Id: string;
      RepoTags: string[] | null;
      Manifests?: { Kind: string; Available: boolean }[];
    }[];
    const images = mapImages(raw);
    expect(new Set(images.map((i) => i.id)).size).toBe(raw.length);
    const multi = images.find((i) => i.repoTags.includes('multi:1'))!;
    const listed = raw.find((r) => r.RepoTags?.includes('multi:1'))!.Manifests!.filter((m) => m.Kind === 'image');
    expect(multi.platforms).toEqual({
      total: listed.length,
      available: listed.filter((m) => m.Available).length,
    });
    expect(multi.platforms!.total).toBeGreaterThan(multi.platforms!.available);
  });

  it('deleting one deletes every platform, and the plan says how many', () => {
    const inv = inventory(
      layered([
        image('multi', { tags: ['multi:1'], platforms: { total: 3, available: 1 } }),
        image('single', { tags: ['single:1'] }),
      ]),
    );
    const plan = makePlan({
      policy: policy('version: 1\nrules:\n  - name: all\n    match: { repositories: ["**"] }\n'),
      inventory: inv,
      now: NOW,
    });
    const deletes = plan.actions.filter((a) => a.type === 'delete');
    expect(deletes.map((a) => [a.refs, a.platforms])).toEqual(
      expect.arrayContaining([
        [['multi:1'], 3],
        [['single:1'], undefined],
      ]),
    );
    expect(formatPlanText(plan)).toMatch(/multi:1 \(3 platforms\)/);
    expect(validatorFor('plan')(JSON.parse(JSON.stringify(plan)))).toBe(true);
  });
});
