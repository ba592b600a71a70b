/** The apply benchmark's fixtures: 300 images, 1-3 tags each, sharing a small pool of layers. */
import { layer, saveArchive } from './engine.mjs';

export const IMAGES = 300;
export const BASES = 5;
export const TOPS = 60; // distinct layer chains: images share a small pool of layers (loading a new layer costs ~50-100 ms on vfs)

/**
 * 300 images, 1-3 tags each (same repository and a mirror repository), two layers from shared pools. Every layer
 * has its own size, as real layers do, so /system/df tells the 60 stacks apart and imgsweep reads one image per
 * stack for its estimate; with one size for all it would read all 300 (bench/layers.bench.mjs measures that case).
 */
export function fixtures() {
  const bases = Array.from({ length: BASES }, (_, i) => layer(`apply-base-${i}`, 8192 + 97 * i));
  const tops = Array.from({ length: TOPS }, (_, i) => layer(`apply-top-${i}`, 2048 + 13 * i));
  const images = [];
  for (let i = 0; i < IMAGES; i++) {
    const repo = `bench/svc-${i % 25}`;
    const tags = [`${repo}:b${i}`];
    if (i % 3 >= 1) tags.push(`${repo}:alias-${i}`);
    if (i % 3 === 2) tags.push(`mirror.local/team/svc-${i % 25}:b${i}`);
    images.push({
      tags,
      created: new Date(Date.UTC(2026, 0, 1) + i * 60_000).toISOString(),
      labels: { 'bench.index': String(i) },
      layers: [bases[i % BASES], tops[i % TOPS]],
    });
  }
  return { images, ...saveArchive(images) };
}

export const POLICY = `version: 1
name: bench-apply
rules:
  - name: all-bench
    match: { repositories: ["bench/**", "mirror.local/**"] }
`;

/** Empties the engine and loads the fixtures again; returns the load time and what was left before. */
export async function rebuild(engine, fx) {
  const left = (await engine.images()).length;
  if (left) await engine.empty();
  const t0 = Date.now();
  await engine.load(fx.archive);
  const n = (await engine.images()).length;
  if (n !== IMAGES) throw new Error(`fixtures: expected ${IMAGES} images, the engine lists ${n}`);
  return { ms: Date.now() - t0, leftBefore: left };
}
