#!/usr/bin/env node
// Writes examples/inventory.json: a CI runner (Docker 20.10, classic store) as `imgsweep inventory` would save it.
// Deterministic (seeded PRNG, fixed clock) and already in canonical form, so serializeInventory() reproduces it
// byte for byte. `--stdout` prints instead of writing; `--explain` lists what each image is meant to exercise.
// "why" notes assume policies/ci-runner evaluated with --now 2026-11-27T12:00:00Z.
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';

const CAPTURED = Date.parse('2026-11-27T11:00:00Z');
const MB = 1e6;
const sha = (text) => createHash('sha256').update(text).digest('hex');

let seed = 0x5eed1d;
/** mulberry32 */
function random() {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const int = (lo, hi) => lo + Math.floor(random() * (hi - lo + 1));
const hex = (n) => Array.from({ length: n }, () => '0123456789abcdef'[int(0, 15)]).join('');

/** "15d3h20m" before capture, plus a few seconds so times do not look hand-made. */
function ago(spec) {
  const units = { d: 86400e3, h: 3600e3, m: 60e3 };
  let ms = 0;
  for (const [, n, u] of spec.matchAll(/(\d+)([dhm])/g)) ms += Number(n) * units[u];
  return CAPTURED - ms + (ms === 0 ? 0 : int(0, 59) * 1000);
}
const iso = (t) => new Date(t).toISOString().replace('.000Z', 'Z');

const layerTable = new Map();
/** A layer is named; the same name in two images is the same (shared) layer. */
function layer(name, mb) {
  if (!layerTable.has(name))
    layerTable.set(name, { digest: `sha256:${sha(`layer:${name}`)}`, size: Math.round(mb * MB) + int(0, 99_999) });
  return layerTable.get(name);
}

const APP = 'registry.acme.io/ci/app';
const WORKER = 'registry.acme.io/ci/worker';
const PY = 'registry.acme.io/base/python';
const appLabels = (rev) => ({
  'org.opencontainers.image.source': 'https://git.acme.io/platform/app',
  'org.opencontainers.image.revision': rev,
});
const workerLabels = (rev) => ({
  'org.opencontainers.image.source': 'https://git.acme.io/platform/worker',
  'org.opencontainers.image.revision': rev,
});

// key, tags, digests (repositories), from (layers of) / parent (ParentId and layers), own layers [name, MB],
// created (ago), seen / last (usage, ago; use: null = no entry), labels, why.
const specs = [
  // Base images, pulled.
  {
    key: 'debian12',
    tags: ['debian:12'],
    digests: ['debian'],
    layers: [['bookworm-20261110', 116.5]],
    created: '17d',
    seen: '16d2h',
    last: '15d3h',
    why: 'delete (all-unused) after its legacy chain: parent ordering',
  },
  {
    key: 'alpine320',
    tags: ['alpine:3.20', 'alpine:latest'],
    digests: ['alpine'],
    layers: [['alpine-3.20.3', 7.8]],
    created: '58d',
    seen: '45d',
    last: '25d',
    why: 'kept by tag latest; alpine:3.20 untagged (all-unused); parent of a kept chain',
  },
  {
    key: 'node20',
    tags: ['node:20-bookworm'],
    digests: ['node'],
    layers: [
      ['bookworm-20261103', 117.2],
      ['bookworm-curl-1103', 24.1],
      ['bookworm-scm-1103', 65.3],
      ['buildpack-deps-1103', 573.4],
      ['node-20.18.1', 195.6],
      ['yarn-1.22.22', 5.4],
    ],
    created: '29d',
    seen: '28d20h',
    why: 'kept: running CI job container',
  },
  {
    key: 'node20-old',
    digests: ['node'],
    layers: [
      ['bookworm-20261006', 117],
      ['bookworm-curl-1006', 24],
      ['bookworm-scm-1006', 65.1],
      ['buildpack-deps-1006', 571.9],
      ['node-20.17.0', 194.8],
      ['yarn-1.22.22', 5.4],
    ],
    created: '52d',
    seen: '51d',
    last: '28d',
    why: 'delete (dangling): digest-only, its tag moved on re-pull; shares a layer with node:20-bookworm',
  },
  {
    key: 'python312',
    tags: [`${PY}:3.12`],
    digests: [PY],
    layers: [
      ['bookworm-slim-20261020', 74.8],
      ['python-3.12.7', 41.2],
      ['acme-python-tools-2', 312.6],
    ],
    labels: { 'org.opencontainers.image.source': 'https://git.acme.io/platform/base-images' },
    created: '38d',
    use: null,
    why: 'kept: protected repository registry.acme.io/base/**; no usage entry',
  },
  {
    key: 'python312-old',
    digests: [PY],
    layers: [
      ['bookworm-slim-20260920', 74.6],
      ['python-3.12.6', 41.1],
      ['acme-python-tools-1', 309.9],
    ],
    labels: { 'org.opencontainers.image.source': 'https://git.acme.io/platform/base-images' },
    created: '59d',
    seen: '58d',
    last: '38d',
    why: 'kept: protected repository, though digest-only',
  },
  {
    key: 'gitlab-runner',
    tags: ['gitlab/gitlab-runner:v17.5.3'],
    digests: ['gitlab/gitlab-runner'],
    layers: [
      ['ubuntu-24.04-20241011', 78.1],
      ['gitlab-runner-17.5.3', 231.7],
    ],
    created: '41d',
    seen: '20d2h',
    why: 'kept: running container (and tag v*.*.*)',
  },
  {
    key: 'runner-helper',
    tags: ['registry.gitlab.com/gitlab-org/gitlab-runner/gitlab-runner-helper:x86_64-v17.5.3'],
    digests: ['registry.gitlab.com/gitlab-org/gitlab-runner/gitlab-runner-helper'],
    layers: [
      ['alpine-3.19.4', 7.4],
      ['runner-helper-17.5.3', 68.3],
    ],
    created: '41d',
    seen: '20d2h',
    why: 'kept: running container only (x86_64-v… is not v*.*.*)',
  },
  {
    key: 'nginx',
    tags: ['nginx:1.27-alpine'],
    digests: ['nginx'],
    layers: [
      ['alpine-3.20.3', 7.8],
      ['nginx-1.27.2', 39.4],
    ],
    labels: { maintainer: 'NGINX Docker Maintainers <docker-maint@nginx.com>' },
    created: '50d',
    use: null,
    why: 'kept: protected reference nginx:1.*; no usage entry',
  },
  {
    key: 'postgres16',
    tags: ['postgres:16'],
    digests: ['postgres'],
    layers: [
      ['bookworm-slim-20261020', 74.8],
      ['postgres-16.5', 358.1],
    ],
    created: '30d',
    seen: '29d',
    why: 'kept: stopped CI service container',
  },
  {
    key: 'redis7',
    tags: ['redis:7', 'redis:7.2'],
    digests: ['redis'],
    layers: [
      ['bookworm-slim-20261020', 74.8],
      ['redis-7.2.6', 62.3],
    ],
    created: '36d',
    seen: '35d',
    last: '18d',
    why: 'delete (all-unused): two tags, both go',
  },
  {
    key: 'alpine319',
    digests: ['alpine'],
    layers: [['alpine-3.19.4', 7.4]],
    created: '59d',
    seen: '44d',
    why: 'delete (dangling): digest-only; frees nothing, the runner helper shares its layer',
  },
  {
    key: 'curl',
    tags: ['curlimages/curl:8.10.1'],
    digests: ['curlimages/curl'],
    layers: [
      ['alpine-3.20.3', 7.8],
      ['curl-8.10.1', 14.6],
    ],
    created: '40d',
    seen: '39d',
    last: '39d',
    why: 'delete (all-unused); 8.10.1 is not v*.*.*',
  },
  {
    key: 'trivy',
    tags: ['aquasec/trivy:0.56.2'],
    digests: ['aquasec/trivy'],
    layers: [
      ['alpine-3.20.3', 7.8],
      ['trivy-0.56.2', 178.3],
    ],
    created: '27d',
    seen: '26d',
    last: '6d',
    why: 'delete (all-unused): olderThan is creation age, used 6 days ago',
  },
  {
    key: 'cypress',
    tags: ['cypress/included:13.15.0'],
    digests: ['cypress/included'],
    layers: [
      ['cypress-bookworm-base', 124.6],
      ['cypress-browsers', 702.3],
      ['cypress-13.15.0', 301.8],
    ],
    created: '33d',
    seen: '31d',
    last: '20d',
    why: 'delete (all-unused): the biggest win, 1.1 GB',
  },
  {
    key: 'buildkit',
    tags: ['moby/buildkit:buildx-stable-1'],
    digests: ['moby/buildkit'],
    layers: [
      ['alpine-3.20.3', 7.8],
      ['buildkit-0.17.2', 196.4],
    ],
    created: '33d',
    seen: '32d',
    why: 'kept: running buildx builder',
  },

  // registry.acme.io/ci/app, built here (BuildKit: no ParentId), FROM node:20-bookworm.
  {
    key: 'app-pr101',
    from: 'node20-old',
    tags: [`${APP}:pr-101`],
    layers: [
      ['app-deps-1', 131.2],
      ['app-src-pr101', 14.3],
    ],
    created: '49d',
    last: '47d',
    why: 'delete (pr-builds)',
  },
  {
    key: 'app-pr102',
    from: 'node20-old',
    tags: [`${APP}:pr-102`, `${APP}:sha-`],
    layers: [
      ['app-deps-1', 131.2],
      ['app-src-pr102', 14.9],
    ],
    created: '45d',
    last: '44d',
    why: 'delete (pr-builds): both tags selected',
  },
  {
    key: 'app-pr104',
    from: 'node20-old',
    tags: [`${APP}:pr-104`],
    layers: [
      ['app-deps-2', 136.4],
      ['app-src-pr104', 15.2],
    ],
    labels: { tier: 'staging' },
    created: '38d',
    last: '37d',
    why: 'delete (pr-builds): tier=staging is not protected',
  },
  {
    key: 'app-pr106',
    from: 'node20-old',
    tags: [`${APP}:pr-106`],
    layers: [
      ['app-deps-2', 136.4],
      ['app-src-pr106', 15.6],
    ],
    created: '33d',
    last: '31d',
    why: 'delete (pr-builds)',
  },
  {
    key: 'app-pr109',
    from: 'node20',
    tags: [`${APP}:pr-109`],
    layers: [
      ['app-deps-3', 139.8],
      ['app-src-pr109', 16.1],
    ],
    labels: { 'com.acme.keep': 'true' },
    created: '27d',
    last: '26d',
    why: 'kept: label com.acme.keep',
  },
  {
    key: 'app-release',
    from: 'node20',
    tags: [`${APP}:v1.8.0`, `${APP}:sha-`],
    layers: [
      ['app-deps-3', 139.8],
      ['app-src-v1.8.0', 16.2],
    ],
    created: '24d',
    last: '22d',
    why: 'untag sha-… (pr-builds); kept by tag v1.8.0',
  },
  {
    key: 'app-main-old1',
    from: 'node20',
    layers: [
      ['app-deps-2', 136.4],
      ['app-src-main-1', 16.4],
    ],
    created: '21d',
    last: '13d',
    why: 'delete (dangling): main moved on',
  },
  {
    key: 'app-pr112',
    from: 'node20',
    tags: [`${APP}:pr-112`],
    layers: [
      ['app-deps-3', 139.8],
      ['app-src-pr112', 16.8],
    ],
    created: '19d',
    last: '18d',
    why: 'delete (pr-builds)',
  },
  {
    key: 'app-pr115',
    from: 'node20',
    tags: [`${APP}:pr-115`, '127.0.0.1:5000/app:pr-115'],
    layers: [
      ['app-deps-3', 139.8],
      ['app-src-pr115', 17],
    ],
    created: '16d',
    last: '15d',
    why: 'delete: ci ref by pr-builds, 127.0.0.1:5000 ref by all-unused (across repositories)',
  },
  {
    key: 'app-main-old2',
    from: 'node20',
    layers: [
      ['app-deps-3', 139.8],
      ['app-src-main-2', 17.1],
    ],
    created: '13d',
    last: '6d',
    why: 'delete (dangling): main moved on',
  },
  {
    key: 'app-pinned',
    from: 'node20',
    tags: [`${APP}:pr-118-pinned`],
    layers: [
      ['app-deps-3', 139.8],
      ['app-src-pr118', 17.3],
    ],
    created: '12d',
    last: '11d',
    why: 'kept: excluded (*-pinned) from pr-builds, too new for all-unused',
  },
  {
    key: 'app-pr120',
    from: 'node20',
    tags: [`${APP}:pr-120`],
    layers: [
      ['app-deps-3', 139.8],
      ['app-src-pr120', 17.4],
    ],
    created: '10d',
    last: '9d',
    why: 'delete (pr-builds)',
  },
  {
    key: 'app-by-digest',
    from: 'node20',
    digests: [APP],
    layers: [
      ['app-deps-3', 139.8],
      ['app-src-rc', 17.6],
    ],
    created: '9d',
    seen: '2d3h',
    why: 'kept: stopped container; digest-only, pulled by digest',
  },
  {
    key: 'app-pr122',
    from: 'node20',
    tags: [`${APP}:pr-122`, `${APP}:sha-`],
    layers: [
      ['app-deps-4', 142.1],
      ['app-src-pr122', 17.9],
    ],
    created: '8d',
    last: '7d',
    why: 'delete (pr-builds)',
  },
  {
    key: 'app-pr125',
    from: 'node20',
    tags: [`${APP}:pr-125`],
    layers: [
      ['app-deps-4', 142.1],
      ['app-src-pr125', 18.2],
    ],
    created: '6d',
    last: '5d',
    why: 'delete (pr-builds)',
  },
  {
    key: 'app-main-old3',
    from: 'node20',
    layers: [
      ['app-deps-4', 142.1],
      ['app-src-main-3', 18.3],
    ],
    created: '5d',
    why: 'kept: stopped container (typed app:main, which moved on since); dangling',
  },
  {
    key: 'app-pr126',
    from: 'node20',
    tags: [`${APP}:pr-126`],
    layers: [
      ['app-deps-4', 142.1],
      ['app-src-pr126', 18.4],
    ],
    created: '4d',
    last: '4d',
    why: 'delete (pr-builds)',
  },
  {
    key: 'app-pr129',
    from: 'node20',
    tags: [`${APP}:pr-129`],
    layers: [
      ['app-deps-4', 142.1],
      ['app-src-pr129', 18.7],
    ],
    created: '2d',
    why: 'kept: used by a container that never ran (created)',
  },
  {
    key: 'app-pr130',
    from: 'node20',
    tags: [`${APP}:pr-130`],
    layers: [
      ['app-deps-5', 144.9],
      ['app-src-pr130', 18.8],
    ],
    created: '1d20h',
    last: '1d18h',
    why: 'delete (pr-builds): third newest',
  },
  {
    key: 'app-main',
    from: 'node20',
    tags: [`${APP}:main`, `${APP}:latest`, `${APP}:sha-`],
    digests: [APP],
    layers: [
      ['app-deps-5', 144.9],
      ['app-src-main-4', 18.9],
    ],
    created: '1d16h',
    why: 'kept: running service (three tags, never touched)',
  },
  {
    key: 'app-pr131',
    from: 'node20',
    tags: [`${APP}:pr-131`],
    layers: [
      ['app-deps-5', 144.9],
      ['app-src-pr131', 19],
    ],
    created: '1d2h',
    last: '1d1h',
    why: 'kept: keep newest 2 (unused for 25h)',
  },
  {
    key: 'app-pr132',
    from: 'node20',
    tags: [`${APP}:pr-132`],
    layers: [
      ['app-deps-5', 144.9],
      ['app-src-pr132', 19.1],
    ],
    created: '40m',
    last: '25m',
    why: 'kept: used 1h25m before now (unusedFor 6h); newest',
  },

  // registry.acme.io/ci/worker, FROM registry.acme.io/base/python:3.12.
  {
    key: 'w-pr98',
    from: 'python312-old',
    tags: [`${WORKER}:pr-98`],
    layers: [
      ['worker-deps-1', 412.5],
      ['worker-src-pr98', 6.2],
    ],
    created: '55d',
    last: '54d',
    why: 'delete (pr-builds)',
  },
  {
    key: 'w-pr103',
    from: 'python312-old',
    tags: [`${WORKER}:pr-103`],
    layers: [
      ['worker-deps-1', 412.5],
      ['worker-src-pr103', 6.4],
    ],
    created: '42d',
    last: '41d',
    why: 'delete (pr-builds)',
  },
  {
    key: 'w-release',
    from: 'python312-old',
    tags: [`${WORKER}:sha-`, 'registry.acme.io/release/worker:v2.3.0'],
    layers: [
      ['worker-deps-2', 455.3],
      ['worker-src-v2.3.0', 6.6],
    ],
    created: '34d',
    last: '30d',
    why: 'untag ci/worker:sha-… (pr-builds); kept by release tag v2.3.0 (across repositories)',
  },
  {
    key: 'w-pr108',
    from: 'python312',
    tags: [`${WORKER}:pr-108`],
    layers: [
      ['worker-deps-pr108', 471.2],
      ['worker-src-pr108', 6.7],
    ],
    created: '29d',
    last: '28d',
    why: 'delete (pr-builds)',
  },
  {
    key: 'w-pr111',
    from: 'python312',
    tags: [`${WORKER}:pr-111`, `${WORKER}:sha-`],
    layers: [
      ['worker-deps-4', 468.8],
      ['worker-src-pr111', 6.9],
    ],
    labels: { tier: 'prod' },
    created: '24d',
    last: '23d',
    why: 'kept: label tier=prod (no untag either)',
  },
  {
    key: 'w-pr112',
    from: 'python312',
    tags: [`${WORKER}:pr-112`],
    layers: [
      ['worker-deps-4', 468.8],
      ['worker-src-pr112', 7.1],
    ],
    created: '20d',
    why: 'kept: stopped container (migration 12 days ago)',
  },
  {
    key: 'w-latest-old',
    from: 'python312',
    layers: [
      ['worker-deps-4', 468.8],
      ['worker-src-main-1', 7.2],
    ],
    created: '17d',
    last: '3d',
    why: 'delete (dangling): latest moved on',
  },
  {
    key: 'w-pr114',
    from: 'python312',
    tags: [`${WORKER}:pr-114`],
    layers: [
      ['worker-deps-5', 497.4],
      ['worker-src-pr114', 7.3],
    ],
    created: '15d',
    last: '15d',
    why: 'delete (pr-builds)',
  },
  {
    key: 'w-pr117',
    from: 'python312',
    tags: [`${WORKER}:pr-117`],
    layers: [
      ['worker-deps-6', 521.7],
      ['worker-src-pr117', 7.4],
    ],
    labels: { 'com.acme.keep': 'true' },
    created: '11d',
    last: '10d',
    why: 'kept: label com.acme.keep',
  },
  {
    key: 'w-pr119',
    from: 'python312',
    tags: [`${WORKER}:pr-119`],
    layers: [
      ['worker-deps-5', 497.4],
      ['worker-src-pr119', 7.6],
    ],
    created: '9d',
    last: '9d',
    why: 'delete (pr-builds)',
  },
  {
    key: 'w-pr124',
    from: 'python312',
    tags: [`${WORKER}:pr-124`],
    layers: [
      ['worker-deps-6', 521.7],
      ['worker-src-pr124', 7.7],
    ],
    created: '4d',
    last: '3d',
    why: 'delete (pr-builds)',
  },
  {
    key: 'w-latest',
    from: 'python312',
    tags: [`${WORKER}:latest`, `${WORKER}:main`, `${WORKER}:sha-`],
    layers: [
      ['worker-deps-6', 521.7],
      ['worker-src-main-2', 7.9],
    ],
    created: '3d',
    last: '2d',
    why: 'untag sha-… (pr-builds, third newest); kept by tag latest, main stays',
  },
  {
    key: 'w-pr127',
    from: 'python312',
    tags: [`${WORKER}:pr-127`],
    layers: [
      ['worker-deps-6', 521.7],
      ['worker-src-pr127', 8.1],
    ],
    created: '1d6h',
    why: 'kept: paused container',
  },
  {
    key: 'w-pr128-old',
    from: 'python312',
    layers: [
      ['worker-deps-6', 521.7],
      ['worker-src-pr128-1', 8.1],
    ],
    created: '21h',
    last: '20h',
    why: 'delete (dangling): pr-128 was rebuilt',
  },
  {
    key: 'w-pr128',
    from: 'python312',
    tags: [`${WORKER}:pr-128`],
    layers: [
      ['worker-deps-6', 521.7],
      ['worker-src-pr128-2', 8.2],
    ],
    created: '20h',
    last: '19h',
    why: 'kept: keep newest 2',
  },
  {
    key: 'w-dangling-fresh',
    from: 'python312',
    layers: [
      ['worker-deps-6', 521.7],
      ['worker-src-pr133', 8.2],
    ],
    created: '12m',
    why: 'delete (dangling): the youngest image, 1h12m old at now',
  },

  // Legacy builder (DOCKER_BUILDKIT=0): untagged intermediates linked by ParentId; size includes the parent's.
  {
    key: 'tools-1',
    parent: 'alpine320',
    layers: [['tools-apk', 38.2]],
    created: '26d',
    last: '26d',
    why: 'kept: parent of a kept image (intermediate)',
  },
  {
    key: 'tools-2',
    parent: 'tools-1',
    layers: [['tools-bin', 21.7]],
    created: '25d23h59m',
    why: 'kept: parent of a kept image and of a deleted one',
  },
  {
    key: 'tools-3',
    parent: 'tools-2',
    layers: [],
    created: '25d23h58m',
    why: 'kept: parent of a kept image (ENV step, no layer)',
  },
  {
    key: 'tools',
    parent: 'tools-3',
    tags: ['acme/ci-tools:v2.1.0'],
    layers: [],
    created: '25d23h57m',
    use: null,
    why: 'kept: tag v*.*.*; no usage entry',
  },
  {
    key: 'tools-dev',
    parent: 'tools-2',
    tags: ['acme/ci-tools:dev'],
    layers: [['tools-dev', 3.1]],
    created: '25d',
    last: '24d',
    why: 'delete (all-unused): a branch off a kept chain',
  },
  {
    key: 'report-1',
    parent: 'debian12',
    layers: [['report-apt', 142.3]],
    created: '15d3h',
    why: 'delete (dangling): intermediate, after its child',
  },
  {
    key: 'report-2',
    parent: 'report-1',
    layers: [['report-src', 12.6]],
    created: '15d2h59m',
    why: 'delete (dangling): intermediate, after its child',
  },
  {
    key: 'report',
    parent: 'report-2',
    tags: ['acme/report-builder:1.0'],
    layers: [],
    created: '15d2h58m',
    last: '15d2h',
    why: 'delete (all-unused): child first, then report-2, report-1, debian:12',
  },
];

// name, image typed, image key, state, created / started / finished (ago; null = never).
const containerSpecs = [
  ['ci-app', `${APP}:main`, 'app-main', 'running', '1d15h', '1d15h', null],
  ['ci-app-prev', `${APP}:main`, 'app-main-old3', 'exited', '5d', '5d', '1d15h'],
  ['gitlab-runner', 'gitlab/gitlab-runner:v17.5.3', 'gitlab-runner', 'running', '20d2h', '3d4h', null],
  [
    'runner-t3kq9zxm-project-42-concurrent-0-8c1f4e2a9b7d3c06-predefined',
    'registry.gitlab.com/gitlab-org/gitlab-runner/gitlab-runner-helper:x86_64-v17.5.3',
    'runner-helper',
    'running',
    '11m',
    '11m',
    null,
  ],
  [
    'runner-t3kq9zxm-project-42-concurrent-0-8c1f4e2a9b7d3c06-build',
    'node:20-bookworm',
    'node20',
    'running',
    '10m',
    '10m',
    null,
  ],
  ['buildx_buildkit_ci0', 'moby/buildkit:buildx-stable-1', 'buildkit', 'running', '32d', '3d4h', null],
  ['ci-worker-debug', `${WORKER}:pr-127`, 'w-pr127', 'paused', '1d5h', '1d5h', null],
  [
    'runner-t3kq9zxm-project-42-concurrent-1-2b7e0c9d4a6f1835-postgres-0',
    'postgres:16',
    'postgres16',
    'exited',
    '3h40m',
    '3h40m',
    '3h',
  ],
  ['smoke-test', `${APP}@sha256:`, 'app-by-digest', 'exited', '2d3h', '2d3h', '2d2h'],
  ['migrate-db', `${WORKER}:pr-112`, 'w-pr112', 'exited', '12d', '12d', '12d'],
  ['nightly-e2e', `${APP}:pr-129`, 'app-pr129', 'created', '1d22h', null, null],
];

const sortedKeys = (obj) => Object.fromEntries(Object.entries(obj).sort(([a], [b]) => (a < b ? -1 : 1)));
const imageId = (key) => `sha256:${sha(`image:${key}`)}`;
const digestOf = (key, repo) => `${repo}@sha256:${sha(`digest:${key}:${repo}`)}`;
const byKey = new Map();
const images = [];
const usage = {};

for (const s of specs) {
  const base = byKey.get(s.parent ?? s.from);
  if ((s.parent || s.from) && !base) throw new Error(`${s.key}: ${s.parent ?? s.from} must come first`);
  const created = ago(s.created);
  if (base && Date.parse(base.image.created) > created) throw new Error(`${s.key}: created before its base`);
  const rev = hex(40);
  const layers = [...(base?.image.layers ?? []), ...s.layers.map(([name, mb]) => layer(name, mb))];
  const image = {
    id: imageId(s.key),
    parentId: s.parent ? imageId(s.parent) : null,
    repoTags: (s.tags ?? []).map((t) => (t.endsWith(':sha-') ? `${t}${rev.slice(0, 7)}` : t)).sort(),
    repoDigests: (s.digests ?? []).map((repo) => digestOf(s.key, repo)).sort(),
    created: iso(created),
    size: layers.reduce((sum, l) => sum + l.size, 0),
    sharedSize: null,
    labels: sortedKeys(
      s.labels ?? (s.key.startsWith('app-') ? appLabels(rev) : s.key.startsWith('w-') ? workerLabels(rev) : {}),
    ),
    layers,
  };
  byKey.set(s.key, { spec: s, image });
  images.push(image);
  if (s.use !== null) {
    const firstSeen = s.seen ? Math.max(ago(s.seen), created) : created + int(60, 300) * 1000;
    const lastUsed = s.last ? Math.max(ago(s.last), firstSeen) : firstSeen;
    usage[image.id] = { firstSeen, lastUsed, source: lastUsed === firstSeen ? 'first-seen' : 'event' };
  }
}

const containers = containerSpecs.map(([name, typed, key, state, created, started, finished]) => {
  const image = byKey.get(key).image;
  // Never created before its image, never started before created, never finished before started.
  const createdAt = Math.max(ago(created), Date.parse(image.created) + 1000);
  const startedAt = started && Math.max(ago(started), createdAt + 1000);
  const finishedAt = finished && Math.max(ago(finished), startedAt + 1000);
  const c = {
    id: sha(`container:${name}`),
    names: [name],
    imageId: image.id,
    image: typed.endsWith('@sha256:') ? image.repoDigests[0] : typed,
    state,
    created: iso(createdAt),
    startedAt: startedAt && iso(startedAt),
    finishedAt: finishedAt && iso(finishedAt),
    mountImageIds: [],
  };
  // Images in use now were used now; stopped ones when they last stopped (or were created).
  const used = state === 'running' || state === 'paused' ? CAPTURED : (finishedAt ?? createdAt);
  const u = usage[image.id];
  if (u && used > u.lastUsed) Object.assign(u, { lastUsed: used, source: 'container' });
  return c;
});

const engine = {
  key: '5f3c9a1e7b2d4c60',
  id: Array.from({ length: 12 }, () =>
    Array.from({ length: 4 }, () => 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'[int(0, 31)]).join(''),
  ).join(':'),
  name: 'ci-runner-07',
  kind: 'docker',
  version: '20.10.24',
  apiVersion: '1.41',
  rootDir: '/var/lib/docker',
  driver: 'overlay2',
  imageStore: 'classic',
  host: 'unix:///var/run/docker.sock',
};

const totalBytes = 26_055_680 * 4096; // about 99.4 GiB
const byId = (a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
const inventory = {
  kind: 'imgsweep-inventory',
  version: 1,
  capturedAt: iso(CAPTURED),
  engine,
  images: images.sort(byId),
  containers: containers.sort(byId),
  usage: Object.fromEntries(
    Object.keys(usage)
      .sort()
      .map((id) => [
        id,
        { firstSeen: iso(usage[id].firstSeen), lastUsed: iso(usage[id].lastUsed), source: usage[id].source },
      ]),
  ),
  disk: { totalBytes, usedBytes: Math.round((totalBytes * 0.881) / 4096) * 4096, path: '/var/lib/docker' },
};
const text = `${JSON.stringify(inventory, null, 2)}\n`;

if (process.argv.includes('--explain')) {
  const kept = new Set();
  for (const { spec, image } of byKey.values()) {
    console.log(
      `${image.id.slice(7, 19)} ${(image.repoTags[0] ?? image.repoDigests[0] ?? '<none>').padEnd(56)} ${spec.why}`,
    );
    if (!spec.why.startsWith('delete')) for (const l of image.layers) kept.add(l.digest);
  }
  // What the intended deletions free: layers no kept image uses.
  const freed = [...layerTable.values()].filter((l) => !kept.has(l.digest)).reduce((sum, l) => sum + l.size, 0);
  const pct = (bytes) => `${((100 * bytes) / inventory.disk.totalBytes).toFixed(1)}%`;
  console.log(
    `deletions free ${(freed / 2 ** 30).toFixed(2)} GiB: disk ${pct(inventory.disk.usedBytes)} -> ${pct(inventory.disk.usedBytes - freed)}`,
  );
} else if (process.argv.includes('--stdout')) {
  process.stdout.write(text);
} else {
  writeFileSync(new URL('../examples/inventory.json', import.meta.url), text);
  console.log(`examples/inventory.json: ${images.length} images, ${containers.length} containers`);
}
