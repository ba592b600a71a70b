import { describe, expect, it } from 'vitest';
import { EngineError, EngineUnavailable, UsageError } from '../../src/errors.js';
import { sshArgs } from '../../src/engine/ssh.js';
import { targetFor } from '../../src/engine/host.js';
import { detectKind, engineKey, mapIdentity, negotiateApiVersion } from '../../src/engine/identity.js';
import { parseHistory, zipLayers } from '../../src/engine/layers.js';
import { engineTime, mapContainer, mapDiskUsage, mapImage, mapImages, parseEvents } from '../../src/engine/map.js';
import { doneFromDeleteResponse, outcomeFromError } from '../../src/engine/outcome.js';
import { makePlan } from '../../src/plan/plan.js';
import { ago, image, inventory, NOW, policy } from '../support/builders.js';

const HEX = 'a'.repeat(64);
const HEX2 = 'b'.repeat(64);
const httpError = (statusCode: number, json: unknown): Error =>
  Object.assign(new Error(`(HTTP code ${statusCode})`), { statusCode, json });

describe('mapImages', () => {
  it('normalizes a Docker 20.10 (API 1.41) untagged image: placeholders, null labels, -1 shared size', () => {
    const image = mapImage({
      Containers: -1,
      Created: 1577934245,
      Id: `sha256:${HEX}`,
      Labels: null,
      ParentId: '',
      RepoDigests: ['<none>@<none>'],
      RepoTags: ['<none>:<none>'],
      SharedSize: -1,
      Size: 5120,
      VirtualSize: 5120,
    });
    expect(image).toEqual({
      id: `sha256:${HEX}`,
      parentId: null,
      repoTags: [],
      repoDigests: [],
      created: '2020-01-02T03:04:05.000Z',
      size: 5120,
      sharedSize: null,
      labels: {},
    });
  });

  it('keeps 20.10 digest-only images (RepoTags null) and legacy-build parents', () => {
    const image = mapImage({
      Created: 0,
      Id: `sha256:${HEX}`,
      Labels: { a: '1' },
      ParentId: `sha256:${HEX2}`,
      RepoDigests: ['127.0.0.1:5000/x@sha256:' + HEX2],
      RepoTags: null,
      SharedSize: -1,
      Size: 1,
    });
    expect(image.repoTags).toEqual([]);
    expect(image.repoDigests).toEqual([`127.0.0.1:5000/x@sha256:${HEX2}`]);
    expect(image.parentId).toBe(`sha256:${HEX2}`);
    expect(image.labels).toEqual({ a: '1' });
  });

  it('reads API 1.43+ shapes: [] for no tags, real SharedSize, Containers counted, no ParentId', () => {
    const image = mapImage({
      Containers: 2,
      Created: 1700000000,
      Id: `sha256:${HEX}`,
      Labels: {},
      RepoDigests: [],
      RepoTags: [],
      SharedSize: 300,
      Size: 900,
    });
    expect(image).toMatchObject({ repoTags: [], repoDigests: [], sharedSize: 300, size: 900, parentId: null });
  });

  it('reads Podman shapes: IDs without sha256:, qualified names, extra fields', () => {
    const image = mapImage({
      Id: HEX,
      ParentId: '',
      RepoTags: ['localhost/app:1', 'docker.io/library/x:1'],
      RepoDigests: [`localhost/app@sha256:${HEX2}`],
      Created: 1700000000,
      Size: 10,
      SharedSize: 0,
      VirtualSize: 10,
      Labels: null,
      Containers: 1,
      Names: ['localhost/app:1'],
      Dangling: false,
    });
    expect(image.id).toBe(`sha256:${HEX}`);
    expect(image.repoTags).toEqual(['localhost/app:1', 'docker.io/library/x:1']);
    expect(image.sharedSize).toBe(0);
  });

  it('keeps a name Podman lists among RepoTags after a pull by digest as a name, once', () => {
    const digest = `localhost/app@sha256:${HEX2}`;
    const other = `localhost/app@sha256:${HEX}`;
    const image = mapImage({
      Id: HEX,
      Created: 1700000000,
      Size: 10,
      RepoTags: ['localhost/app:1', digest],
      RepoDigests: [other, digest],
    });
    expect(image).toMatchObject({ repoTags: ['localhost/app:1', digest], repoDigests: [other] });
  });

  it('falls back to VirtualSize, then 0, when Size is -1', () => {
    expect(mapImage({ Id: HEX, Created: 0, Size: -1, VirtualSize: 7 }).size).toBe(7);
    expect(mapImage({ Id: HEX, Created: 0, Size: -1 }).size).toBe(0);
  });

  it.each([
    ['not an array', { message: 'page not found' }, /GET \/images\/json should be an array, got object/],
    ['an item that is not an object', [null], /images\[0\] should be an object, got null/],
    ['a missing Id', [{ Created: 1, Size: 1 }], /images\[0\]\.Id should be a string, got undefined/],
    ['a string Created', [{ Id: HEX, Created: '2020', Size: 1 }], /images\[0\]\.Created should be a number/],
    [
      'a tag that is not a string',
      [{ Id: HEX, Created: 1, Size: 1, RepoTags: [3] }],
      /images\[0\]\.RepoTags\[0\] should be a string/,
    ],
    [
      'labels that are a list',
      [{ Id: HEX, Created: 1, Size: 1, Labels: ['a'] }],
      /images\[0\]\.Labels should be an object, got an array/,
    ],
  ])('rejects %s with an EngineError', (_name, raw, message) => {
    expect(() => mapImages(raw)).toThrow(EngineError);
    expect(() => mapImages(raw)).toThrow(message);
  });
});

describe('mapContainer', () => {
  const summary = {
    Id: 'c1',
    Names: ['/web'],
    Image: 'q/a:1',
    ImageID: `sha256:${HEX}`,
    Created: 1700000000,
    State: 'exited',
    Mounts: [
      { Type: 'volume', Name: 'v' },
      { Type: 'image', Source: `sha256:${HEX2}` },
    ],
  };

  it('takes ImageID (not Image), strips leading slashes and reads times from inspect', () => {
    const inspect = { State: { StartedAt: '2026-11-27T20:10:05.121977573Z', FinishedAt: '0001-01-01T00:00:00Z' } };
    expect(mapContainer(summary, inspect)).toEqual({
      id: 'c1',
      names: ['web'],
      imageId: `sha256:${HEX}`,
      image: 'q/a:1',
      state: 'exited',
      created: '2023-11-14T22:13:20.000Z',
      startedAt: '2026-11-27T20:10:05.121Z',
      finishedAt: null,
      mountImageIds: [`sha256:${HEX2}`],
    });
  });

  it('reads Podman containers: ImageID without prefix, Podman-only states', () => {
    const podman = { ...summary, ImageID: HEX, State: 'configured', Mounts: undefined };
    const record = mapContainer(podman, { State: { StartedAt: '2026-01-01T10:00:00.5+01:00' } });
    expect(record).toMatchObject({
      imageId: `sha256:${HEX}`,
      state: 'created',
      startedAt: '2026-01-01T09:00:00.500Z',
      mountImageIds: [],
    });
    expect(mapContainer({ ...podman, State: 'stopped' }, null).state).toBe('exited');
  });

  it('treats an unknown state as running, the state whose image is never touched', () => {
    expect(mapContainer({ ...summary, State: 'frobnicating' }, null).state).toBe('running');
  });

  it('rejects a container without ImageID', () => {
    expect(() => mapContainer({ ...summary, ImageID: undefined }, null)).toThrow(/ImageID should be a string/);
  });

  it('reads Go zero times and garbage as null', () => {
    expect(engineTime('0001-01-01T00:00:00Z')).toBeNull();
    expect(engineTime('')).toBeNull();
    expect(engineTime('yesterday')).toBeNull();
  });
});

describe('parseEvents', () => {
  it('maps container events, resolving the image only when it is an ID', () => {
    // timeNano as the engine sends it: more digits than a double holds, which only costs sub-microseconds.
    const start =
      '{"status":"start","id":"c1","from":"q/a:1","Type":"container","Action":"start","Actor":{"ID":"c1","Attributes":{"image":"q/a:1"}},"time":1795810205,"timeNano":1795810205124068769}';
    const lines = [
      start,
      JSON.stringify({
        Type: 'container',
        Action: 'create',
        Actor: { ID: 'c2', Attributes: { image: `sha256:${HEX}` } },
        time: 1795810206,
      }),
      JSON.stringify({ Type: 'image', Action: 'delete', Actor: { ID: `sha256:${HEX}` }, time: 1795810207 }),
    ];
    expect(parseEvents(lines.join('\n') + '\n')).toEqual([
      { time: '2026-11-27T20:10:05.124Z', action: 'start', containerId: 'c1', imageId: null, image: 'q/a:1' },
      {
        time: '2026-11-27T20:10:06.000Z',
        action: 'create',
        containerId: 'c2',
        imageId: `sha256:${HEX}`,
        image: `sha256:${HEX}`,
      },
    ]);
  });

  it('rejects lines that are not JSON', () => {
    expect(() => parseEvents('<html>')).toThrow(EngineError);
  });
});

describe('zipLayers', () => {
  const history = (entries: [number, string][]) =>
    parseHistory(entries.map(([Size, CreatedBy]) => ({ Size, CreatedBy })).reverse());

  it('zips one-to-one when every history entry is a layer (docker load)', () => {
    expect(
      zipLayers(
        ['l1', 'l2'],
        history([
          [10, 'a'],
          [0, 'b'],
        ]),
      ),
    ).toEqual([
      { digest: 'l1', size: 10 },
      { digest: 'l2', size: 0 },
    ]);
  });

  it('skips metadata instructions and RUNs that left no layer (measured on the legacy builder)', () => {
    const h = history([
      [2974440, ''],
      [0, '/bin/sh -c #(nop)  LABEL a=1'],
      [0, '/bin/sh -c /bin/busybox true'],
      [5, '/bin/sh -c touch /x'],
      [0, '/bin/sh -c #(nop)  ENV X=1'],
    ]);
    expect(zipLayers(['base', 'x'], h)).toEqual([
      { digest: 'base', size: 2974440 },
      { digest: 'x', size: 5 },
    ]);
  });

  it('places a zero-size layer by instruction when sizes alone are ambiguous (BuildKit shapes)', () => {
    const h = history([
      [100, 'ADD rootfs /'],
      [0, 'LABEL a=1'],
      [0, 'RUN /bin/sh -c rm /x # buildkit'],
      [7, 'RUN /bin/sh -c echo > /y'],
    ]);
    expect(zipLayers(['base', 'rm', 'y'], h).map((l) => l.size)).toEqual([100, 0, 7]);
  });
});

describe('write outcomes', () => {
  it('parses Docker and Podman delete bodies in any order', () => {
    expect(doneFromDeleteResponse([{ Untagged: 'q/a:1' }, { Deleted: `sha256:${HEX}` }])).toEqual({
      status: 'done',
      deleted: [`sha256:${HEX}`],
      untagged: ['q/a:1'],
    });
    expect(doneFromDeleteResponse([{ Deleted: HEX }, { Untagged: 'localhost/a:1' }])).toEqual({
      status: 'done',
      deleted: [`sha256:${HEX}`],
      untagged: ['localhost/a:1'],
    });
  });

  it('classifies by status code and keeps the engine message', () => {
    const conflict = httpError(409, {
      message: 'conflict: unable to delete aaa (must be forced) - image is referenced in multiple repositories',
    });
    expect(outcomeFromError(conflict, 'docker')).toEqual({
      status: 'conflict',
      message: 'conflict: unable to delete aaa (must be forced) - image is referenced in multiple repositories',
    });
    expect(outcomeFromError(httpError(404, { message: 'No such image: x' }), 'docker')).toEqual({
      status: 'gone',
      message: 'No such image: x',
    });
    expect(outcomeFromError(httpError(500, { message: 'boom' }), 'docker')).toEqual({
      status: 'failed',
      message: 'HTTP 500: boom',
      transport: false,
    });
  });

  it('reads a Podman 500 "more than one tag" as a conflict, and only from Podman', () => {
    const err = httpError(500, {
      cause: 'image is in use',
      message: 'unable to delete image "x" by ID with more than one tag ([a b]): please force removal',
      response: 500,
    });
    expect(outcomeFromError(err, 'podman').status).toBe('conflict');
    expect(outcomeFromError(err, 'docker').status).toBe('failed');
  });

  it('marks transport errors and timeouts as transport failures', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED /x.sock'), { code: 'ECONNREFUSED' });
    expect(outcomeFromError(refused, 'docker')).toEqual({
      status: 'failed',
      message: 'connect ECONNREFUSED /x.sock',
      transport: true,
    });
  });
});

describe('identity', () => {
  const docker2010 = {
    Platform: { Name: '' },
    Components: [{ Name: 'Engine' }],
    Version: '20.10.24+dfsg1',
    ApiVersion: '1.41',
    MinAPIVersion: '1.12',
  };
  const podman = {
    Platform: { Name: 'linux/amd64/debian-12' },
    Components: [{ Name: 'Podman Engine' }],
    Version: '4.3.1',
    ApiVersion: '1.41',
    MinAPIVersion: '1.24',
  };

  it('pins min(ours, server), respecting the server minimum', () => {
    expect(negotiateApiVersion(docker2010)).toBe('1.41');
    expect(negotiateApiVersion({ ApiVersion: '1.51', MinAPIVersion: '1.24' })).toBe('1.51');
    // Docker 29.0–29.2: minimum 1.44.
    expect(negotiateApiVersion({ ApiVersion: '1.52', MinAPIVersion: '1.44' })).toBe('1.52');
    expect(negotiateApiVersion({ ApiVersion: '1.54', MinAPIVersion: '1.44' })).toBe('1.52');
    // An engine that no longer speaks any API this imgsweep knows: said in one line, not guessed at.
    expect(() => negotiateApiVersion({ ApiVersion: '1.60', MinAPIVersion: '1.55' })).toThrow(
      /^the engine accepts API 1\.55 and newer; this imgsweep speaks API 1\.52 at most: upgrade imgsweep/,
    );
    expect(() => negotiateApiVersion({ Version: 'x' })).toThrow(EngineError);
  });

  it('detects Podman from its components', () => {
    expect(detectKind(docker2010)).toBe('docker');
    expect(detectKind(podman)).toBe('podman');
  });

  it('keys daemons that share an /info ID apart, and reads the containerd store', () => {
    const info = { ID: 'QLNM:4UWQ', Name: 'vm', DockerRootDir: '/tmp/a/data', Driver: 'vfs', DriverStatus: null };
    const a = mapIdentity(docker2010, info, '1.41', 'unix:///tmp/a.sock');
    const b = mapIdentity(docker2010, { ...info, DockerRootDir: '/tmp/b/data' }, '1.41', 'unix:///tmp/b.sock');
    expect(a.key).not.toBe(b.key);
    expect(a).toMatchObject({
      id: 'QLNM:4UWQ',
      kind: 'docker',
      imageStore: 'classic',
      version: '20.10.24+dfsg1',
      key: engineKey('QLNM:4UWQ', '/tmp/a/data', 'vm'),
    });
    const containerd = mapIdentity(
      docker2010,
      { ...info, DriverStatus: [['driver-type', 'io.containerd.snapshotter.v1']] },
      '1.45',
      'x',
    );
    expect(containerd.imageStore).toBe('containerd');
    expect(containerd.containerdRoot).toBeUndefined();
  });

  it("containerd's root: read where /info names it, never guessed from the data root or the socket", () => {
    const info = {
      ID: 'x',
      Name: 'vm',
      DockerRootDir: '/var/lib/docker',
      Driver: 'overlayfs',
      DriverStatus: [['driver-type', 'io.containerd.snapshotter.v1']],
      Containerd: {
        Address: '/run/containerd/containerd.sock',
        Namespaces: { Containers: 'moby', Plugins: 'plugins.moby' },
      },
    };
    const root = (i: object) => mapIdentity(docker2010, i, '1.52', 'unix:///var/run/docker.sock').containerdRoot;
    expect(root(info)).toBeUndefined();
    expect(root({ ...info, DriverStatus: [...info.DriverStatus, ['Root Dir', '/srv/containerd']] })).toBe(
      '/srv/containerd',
    );
    expect(root({ ...info, Containerd: { ...info.Containerd, Root: '/data/containerd' } })).toBe('/data/containerd');
    // Not a path, or a classic store's driver root: no containerd root.
    expect(root({ ...info, Containerd: { ...info.Containerd, Root: 'containerd' } })).toBeUndefined();
    expect(root({ ...info, DriverStatus: [['Root Dir', '/var/lib/docker/aufs']] })).toBeUndefined();
  });
});

describe('targetFor', () => {
  const noFiles = (p: string): Buffer => {
    throw new Error(`ENOENT ${p}`);
  };

  it('prefers --host, then DOCKER_HOST, then the local socket, and never leaks env into options', () => {
    expect(targetFor(undefined, {})).toMatchObject({
      host: 'unix:///var/run/docker.sock',
      source: 'default',
      options: { socketPath: '/var/run/docker.sock', host: undefined },
    });
    expect(targetFor(undefined, { DOCKER_HOST: 'unix:///tmp/d.sock' }).options.socketPath).toBe('/tmp/d.sock');
    const explicit = targetFor('unix:///tmp/x.sock', { DOCKER_HOST: 'tcp://remote:2375' });
    expect(explicit).toMatchObject({
      source: '--host',
      options: { socketPath: '/tmp/x.sock', host: undefined, port: undefined },
    });
  });

  it('reads tcp:// with TLS from DOCKER_TLS_VERIFY and DOCKER_CERT_PATH', () => {
    expect(targetFor('tcp://h', {}).options).toMatchObject({ host: 'h', port: '2375', protocol: 'http' });
    const files = (p: string): Buffer => Buffer.from(p);
    const tls = targetFor('tcp://h:3000', { DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: '/certs' }, files);
    expect(tls.options).toMatchObject({
      protocol: 'https',
      port: '3000',
      ca: Buffer.from('/certs/ca.pem'),
      key: Buffer.from('/certs/key.pem'),
    });
    expect(() => targetFor('tcp://h', { DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: '/nope' }, noFiles)).toThrow(
      EngineUnavailable,
    );
    expect(targetFor('tcp://h', { DOCKER_TLS_VERIFY: '0' }, noFiles).options.protocol).toBe('http');
  });

  it('reads ssh:// with user and port; without a port, ssh picks it (its config, else 22)', () => {
    expect(targetFor('ssh://me@box:2222', {})).toMatchObject({
      host: 'ssh://me@box:2222',
      options: { protocol: 'ssh', host: 'box', port: '2222', username: 'me' },
    });
    expect(targetFor('ssh://box', {})).toMatchObject({
      host: 'ssh://box',
      options: { protocol: 'ssh', host: 'box', port: undefined, username: undefined },
    });
    expect(sshArgs({ host: 'box', port: '2222', user: 'me' })).toEqual([
      '-o',
      'BatchMode=yes',
      '-p',
      '2222',
      '--',
      'me@box',
      'docker',
      'system',
      'dial-stdio',
    ]);
    expect(sshArgs({ host: '::1' })).toEqual(['-o', 'BatchMode=yes', '--', '::1', 'docker', 'system', 'dial-stdio']);
  });

  it.each(['http://h:2375', 'unix://relative.sock', 'npipe:////./pipe/docker', 'not a url'])(
    'rejects %s with a usage error',
    (host) => {
      expect(() => targetFor(host, {})).toThrow(UsageError);
    },
  );
});

describe('mapDiskUsage (/system/df)', () => {
  it('keeps LayersSize, every image size, and the shared bytes it knows (-1 or missing: left out)', () => {
    const df = mapDiskUsage({
      LayersSize: 12_345,
      Images: [
        { Id: `sha256:${HEX}`, Size: 700, SharedSize: 500 },
        { Id: HEX2, Size: 300, SharedSize: -1 },
        { Id: `sha256:${'c'.repeat(64)}`, Size: 0 },
      ],
    });
    expect(df.layersSize).toBe(12_345);
    expect(df.sizes).toEqual(
      new Map([
        [`sha256:${HEX}`, 700],
        [`sha256:${HEX2}`, 300],
        [`sha256:${'c'.repeat(64)}`, 0],
      ]),
    );
    expect(df.sharedSize).toEqual(new Map([[`sha256:${HEX}`, 500]]));
  });
});

describe('mapDiskUsage across API versions', () => {
  const image = { Id: `sha256:${HEX}`, Created: 0, Size: 700, SharedSize: 200, RepoTags: ['a:1'], RepoDigests: [] };
  const record = {
    ID: 'abcdefghijklmnopqrstuvwxy',
    Parents: [],
    Type: 'regular',
    Description: 'COPY . /src',
    InUse: false,
    Shared: false,
    Size: 4096,
    CreatedAt: '2026-11-01T00:00:00Z',
    LastUsedAt: '2026-11-02T00:00:00Z',
    UsageCount: 1,
  };
  const legacy = { LayersSize: 900, Images: [image], Containers: [], Volumes: [], BuildCache: [record] };
  const current = {
    ImageUsage: { ActiveCount: 0, TotalCount: 1, Reclaimable: 700, TotalSize: 900, Items: [image] },
    ContainerUsage: { ActiveCount: 0, TotalCount: 0, Reclaimable: 0, TotalSize: 0 },
    VolumeUsage: { ActiveCount: 0, TotalCount: 0, Reclaimable: 0, TotalSize: 0 },
    BuildCacheUsage: { ActiveCount: 0, TotalCount: 1, Reclaimable: 4096, TotalSize: 4096, Items: [record] },
  };

  it('1.52 (both shapes), 1.53 verbose (the new one only) and 1.41 (the old one) read alike', () => {
    const old = mapDiskUsage(legacy);
    expect(mapDiskUsage({ ...legacy, ...current })).toEqual(old);
    expect(mapDiskUsage(current)).toEqual(old);
    expect(old.layersSize).toBe(900);
    expect(old.sizes).toEqual(new Map([[`sha256:${HEX}`, 700]]));
    expect(old.buildCache.map((r) => r.id)).toEqual([record.ID]);
  });

  it('without verbose lists (1.53 not asked with verbose): totals only, no per-image figures, no records', () => {
    const bare = {
      ImageUsage: { ...current.ImageUsage, Items: undefined },
      BuildCacheUsage: { ...current.BuildCacheUsage, Items: undefined },
    };
    const df = mapDiskUsage(bare);
    expect(df.layersSize).toBe(900);
    expect(df.sizes.size).toBe(0);
    expect(df.buildCache).toEqual([]);
  });
});

describe("the containerd store's moby-dangling@ records", () => {
  it('are no reference anyone wrote: an image left with only them is untagged', () => {
    const img = mapImage({
      Id: `sha256:${HEX}`,
      Created: 0,
      Size: 10,
      RepoTags: [],
      RepoDigests: [`moby-dangling@sha256:${HEX}`],
    });
    expect(img.repoTags).toEqual([]);
    expect(img.repoDigests).toEqual([]);
    // So `untagged: true` selects it, and the plan names no reference of it.
    const kept = image('kept', { tags: ['kept:1'] });
    const plan = makePlan({
      policy: policy('version: 1\nrules:\n  - name: leftovers\n    match: { untagged: true }\n'),
      inventory: inventory([{ ...img, created: ago('30d') }, kept]),
      now: NOW,
    });
    expect(plan.actions).toEqual([expect.objectContaining({ type: 'delete', imageId: img.id, rule: 'leftovers' })]);
    expect(JSON.stringify(plan)).not.toContain('moby-dangling');
  });
});
