/**
 * Every recorded Engine API fixture set (test/fixtures/engine-api/<api>/<store>, found in the directory, so a
 * folder added later is covered too) served by the fake engine (test/support/fake-engine-server.ts), and
 * imgsweep's command line run against it: inventory, plan, explain, and the calls apply makes.
 *
 * This is NOT a real engine: the fixtures were written from the moby and Podman sources, and the server's
 * untagging, deleting and conflicts are a simplification of each image store's code. The real-engine suites remain
 * the authority; this file checks that imgsweep reads every version's shapes and sends the calls each store needs
 * (untag before delete, children before parents, deletes by full ID with noprune, never force). It needs no
 * dockerd. A folder whose engine the fake engine does not serve fails here rather than being skipped.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { startFakeEngine, type FakeEngineServer, type RecordedRequest } from '../support/fake-engine-server.js';

const ROOT = fileURLToPath(new URL('../fixtures/engine-api/', import.meta.url));
const byApi = (a: string, b: string) => {
  const [am = 0, an = 0] = a.split('.').map(Number);
  const [bm = 0, bn = 0] = b.split('.').map(Number);
  return am - bm || an - bn;
};
/** Every <api>/<store> folder holding a version.json. */
const FOLDERS = readdirSync(ROOT)
  .filter((api) => /^\d+\.\d+$/.test(api))
  .sort(byApi)
  .flatMap((api) =>
    readdirSync(join(ROOT, api))
      .filter((store) => existsSync(join(ROOT, api, store, 'version.json')))
      .sort()
      .map((store) => ({ api, store, dir: join(ROOT, api, store) })),
  );

// Unused images and untagged ones go after a day; a container stopped for an hour is removed first.
const POLICY = `version: 1
name: shapes
containers:
  stopped: remove
  stoppedFor: 1h
rules:
  - name: untagged
    match: { untagged: true }
    olderThan: 1d
  - name: unused
    match: { unused: true }
    olderThan: 1d
`;
const DISK_POLICY = `version: 1
name: shapes-disk
rules:
  - name: untagged
    match: { untagged: true }
    olderThan: 1d
disk:
  maxUsage: 80%
`;

interface Listed {
  Id: string;
  ParentId?: string;
  RepoTags: string[] | null;
  RepoDigests: string[] | null;
  /** Podman: the digest the image was pulled by. */
  Digest?: string;
  Manifests?: { Kind: string; Available: boolean }[];
}
interface Summary {
  Id: string;
  Names: string[];
  ImageID: string;
  State: string;
}

/** What a folder's files say, read as they are (only `<none>` placeholders are left out of the tags). */
function factsOf(dir: string) {
  const json = <T>(name: string): T => JSON.parse(readFileSync(join(dir, name), 'utf8')) as T;
  const listed = json<Listed[]>('images.json');
  const tagsOf = (i: Listed) => (i.RepoTags ?? []).filter((t) => !t.startsWith('<none>')).toSorted();
  const containers = json<Summary[]>('containers.json');
  const running = new Set(containers.filter((c) => c.State === 'running').map((c) => c.ImageID));
  const withManifests = existsSync(join(dir, 'images-manifests.json')) ? json<Listed[]>('images-manifests.json') : [];
  const systemTime = json<{ SystemTime: string }>('info.json').SystemTime;
  const events = readFileSync(join(dir, 'events.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as { Action: string; Actor: { Attributes: Record<string, string> }; timeNano: number });
  return {
    json,
    listed,
    ids: listed.map((i) => i.Id).toSorted(),
    tags: new Map(listed.map((i) => [i.Id, tagsOf(i)])),
    idOf: (name: string) => json<{ Id: string }>(`image-inspect-${name}.json`).Id,
    containers,
    /** Images a running container uses: kept whatever the policy says. */
    inUse: [...running].toSorted(),
    stopped: containers.filter((c) => c.State !== 'running'),
    events,
    platforms: (id: string) => {
      const m = withManifests.find((i) => i.Id === id)?.Manifests?.filter((x) => x.Kind === 'image') ?? [];
      return { total: m.length, available: m.filter((x) => x.Available).length };
    },
    // The recorded engine's clock, to the millisecond.
    now: new Date(Date.parse(systemTime.replace(/(\.\d{3})\d+/, '$1'))).toISOString(),
  };
}

interface InventoryJson {
  images: {
    id: string;
    parentId: string | null;
    repoTags: string[];
    repoDigests: string[];
    platforms?: { total: number; available: number };
  }[];
  containers: { id: string; names: string[]; imageId: string; state: string }[];
  usage: Record<string, { lastUsed: string; source: string }>;
}
interface PlanJson {
  refused: unknown;
  actions: {
    type: string;
    imageId: string;
    ref?: string;
    refs?: string[];
    containerId?: string;
    parentId?: string | null;
    rule?: string;
    platforms?: number;
  }[];
  kept: { imageId: string; reason: string; container?: { name: string; state: string }; parent?: string }[];
}
interface ExplainJson {
  imageId: string;
  deleted: boolean;
  rule: string | null;
  kept: { reason: string; container?: { name: string; state: string }; parent?: string } | null;
  references: { ref: string; fate: string }[];
}
interface ReportJson {
  exitCode: number;
  engines: { error: unknown; steps: { type: string; imageId: string; ref?: string; outcome: string }[] }[];
}

const line = (r: RecordedRequest) => `${r.method} ${decodeURIComponent(r.path)}`;
const withQuery = (r: RecordedRequest) => `${line(r)} ${JSON.stringify(r.query)}`;
const isWrite = (r: RecordedRequest) => r.method !== 'GET' && r.method !== 'HEAD';
const byIdPath = (id: string) => `DELETE /images/${id}`;
const repositoryOf = (ref: string) => ref.replace(/@.*$/, '').replace(/:[^:/]+$/, '');

/** One request over the server's socket: status and parsed body. */
const call = (server: FakeEngineServer, method: string, path: string) =>
  new Promise<{ status: number; body: unknown }>((resolve, reject) => {
    const req = request({ socketPath: server.socketPath, method, path }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => {
        const lines = text.split('\n').filter((l) => l.trim() !== '');
        const body = path.includes('/events') ? lines.map((l): unknown => JSON.parse(l)) : JSON.parse(text || 'null');
        resolve({ status: res.statusCode ?? 0, body });
      });
    });
    req.on('error', reject);
    req.end();
  });

it('finds every fixture folder, the ones added later too', () => {
  expect(FOLDERS.map((f) => `${f.api}/${f.store}`)).toEqual(
    expect.arrayContaining([
      '1.41/graph',
      '1.44/graph',
      '1.47/containerd',
      '1.47/graph',
      '1.50/containerd',
      '1.50/graph',
      '1.52/containerd',
      '1.52/graph',
      '1.41/podman',
      '1.44/podman',
    ]),
  );
});

describe.each(FOLDERS)('API $api, $store store', ({ api, store, dir }) => {
  const containerd = store === 'containerd';
  const podman = store === 'podman';
  // Podman names a local tag localhost/…, a Docker Hub image docker.io/library/… (SOURCES.md).
  const appName = podman ? 'docker.io/library/app:1.4' : 'app:1.4';
  const webName = podman ? 'localhost/web:2' : 'web:2';
  const baseLatest = podman ? 'localhost/base:latest' : 'base:latest';
  let server: FakeEngineServer;
  let facts: ReturnType<typeof factsOf>;
  let common: string[];
  let optionsAt: (now: string) => string[];
  let policy: string;
  const cleanups: (() => Promise<void> | void)[] = [];

  beforeEach(async () => {
    // A store the fake engine does not serve throws here, failing every test of the folder.
    server = await startFakeEngine({ fixtures: dir });
    cleanups.push(() => server.stop());
    expect(server.store).toBe(podman ? 'podman' : containerd ? 'containerd' : 'classic');
    expect(server.apiVersion).toBe(api);
    facts = factsOf(dir);
    const tmp = mkdtempSync(join(tmpdir(), 'imgsweep-shapes-'));
    cleanups.push(() => rmSync(tmp, { recursive: true, force: true }));
    policy = join(tmp, 'policy.yaml');
    writeFileSync(policy, POLICY);
    optionsAt = (now) => [
      '--host',
      server.host,
      '--state-dir',
      join(tmp, 'state'),
      '--now',
      now,
      '--registry-check',
      'off',
    ];
    common = optionsAt(facts.now);
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });

  /** The command's JSON output, after checking it succeeded quietly. */
  async function runJson<T>(args: string[]): Promise<T> {
    const run = await runCli([...args, ...common]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    return JSON.parse(run.stdout) as T;
  }

  it('inventory --json: every image with its tags and no placeholder or moby-dangling reference, the containers, the platforms, use from events', async () => {
    // A run a day earlier, so that this one reads the events since then (a first run counts every image as seen now).
    const dayBefore = new Date(Date.parse(facts.now) - 86_400_000).toISOString();
    const earlier = await runCli(['inventory', '--json', ...optionsAt(dayBefore)]);
    expect(earlier.code).toBe(0);
    const text = await runCli(['inventory', '--json', ...common]);
    expect(text.code).toBe(0);
    expect(text.stdout).not.toMatch(/<none>|moby-dangling/);
    const inventory = JSON.parse(text.stdout) as InventoryJson;

    expect(inventory.images.map((i) => i.id).toSorted()).toEqual(facts.ids);
    for (const image of inventory.images) {
      expect(image.repoTags.toSorted(), image.id).toEqual(facts.tags.get(image.id));
      for (const d of image.repoDigests) expect(d).toMatch(/^[^@<>]+@sha256:[0-9a-f]{64}$/);
    }
    const old = inventory.images.find((i) => i.id === facts.idOf('old'))!;
    expect(old).toMatchObject({ repoTags: [], repoDigests: [], parentId: null });
    // The classic store records the legacy builder's parent, Podman's layer tree makes tool base's child; the
    // containerd store has none here.
    const parents = inventory.images.filter((i) => i.parentId !== null).map((i) => [i.id, i.parentId]);
    expect(parents).toEqual(containerd ? [] : [[facts.idOf('tool'), facts.idOf('base')]]);
    if (containerd) {
      const multi = inventory.images.find((i) => i.id === facts.idOf('multi'))!;
      expect(facts.platforms(multi.id)).toEqual({ total: 2, available: 1 });
      expect(multi.platforms).toEqual(facts.platforms(multi.id));
    }

    expect(inventory.containers.map((c) => [c.id, c.names[0], c.state, c.imageId]).toSorted()).toEqual(
      facts.containers.map((c) => [c.Id, c.Names[0]!.replace(/^\//, ''), c.State, c.ImageID]).toSorted(),
    );

    // The removed tmp-web container's last event marks web:2 used then, read with or without the legacy fields.
    const webDied = facts.events.find((e) => e.Action === 'die' && e.Actor.Attributes.image === webName)!;
    expect(inventory.usage[facts.idOf('web')]).toMatchObject({
      lastUsed: new Date(webDied.timeNano / 1e6).toISOString(),
      source: expect.stringMatching(/^event die/),
    });
    // Podman sends them at every version.
    expect(facts.events.some((e) => 'status' in e)).toBe(podman || byApi(api, '1.52') < 0);

    // Every call at the folder's API version (the server refuses others), the events among them.
    for (const r of server.requests.filter((r) => r.path !== '/version')) expect(r.version, line(r)).toBe(api);
    expect(server.requests.filter((r) => line(r) === 'GET /events')).toEqual([
      expect.objectContaining({ status: 200 }),
      expect.objectContaining({ status: 200 }),
    ]);
    expect(server.requests.filter((r) => r.status >= 400).map(withQuery)).toEqual([]);
  });

  it('plan --format json: deletes every image no running container uses, untags all but one name first, removes the stopped container', async () => {
    const plan = await runJson<PlanJson>(['plan', '-p', policy, '--format', 'json']);
    expect(plan.refused).toBeNull();
    const deletes = plan.actions.filter((a) => a.type === 'delete');
    const untags = plan.actions.filter((a) => a.type === 'untag');

    expect(deletes.map((d) => d.imageId).toSorted()).toEqual(facts.ids.filter((id) => !facts.inUse.includes(id)));
    for (const d of deletes) {
      const tags = facts.tags.get(d.imageId)!;
      expect(d.rule, d.imageId).toBe(tags.length === 0 ? 'untagged' : 'unused');
      // All names but one are untagged first; the delete by ID takes the last one with it.
      const untagged = untags.filter((u) => u.imageId === d.imageId).map((u) => u.ref!);
      expect(untagged.length, d.imageId).toBe(Math.max(0, tags.length - 1));
      const left = (d.refs ?? []).filter((r) => !r.includes('@'));
      expect([...untagged, ...left].toSorted(), d.imageId).toEqual(tags);
      // The containerd store deletes every platform of an index at once, and the plan says how many.
      const { total } = facts.platforms(d.imageId);
      if (containerd && total > 1) expect(d.platforms, d.imageId).toBe(total);
      else expect(d.platforms, d.imageId).toBeUndefined();
    }
    if (containerd) expect(deletes.find((d) => d.imageId === facts.idOf('multi'))?.platforms).toBe(2);
    else expect(deletes.find((d) => d.imageId === facts.idOf('tool'))?.parentId).toBe(facts.idOf('base'));

    expect(plan.actions.filter((a) => a.type === 'remove-container')).toEqual(
      facts.stopped.map((c): unknown => expect.objectContaining({ containerId: c.Id, imageId: c.ImageID })),
    );
    expect(plan.kept).toEqual([
      expect.objectContaining({
        imageId: facts.idOf('app'),
        reason: 'in-use',
        container: expect.objectContaining({ name: 'app-1', state: 'running' }),
      }),
    ]);
    expect(facts.inUse).toEqual([facts.idOf('app')]);
    expect(plan.actions.filter((a) => a.imageId === facts.idOf('app'))).toEqual([]);
  });

  it('explain: the image in use is kept for its running container, web:2 is untagged and its image deleted by the unused rule', async () => {
    const app = await runJson<ExplainJson>(['explain', 'app:1.4', '-p', policy, '--json']);
    expect(app).toMatchObject({
      imageId: facts.idOf('app'),
      deleted: false,
      kept: { reason: 'in-use', container: { name: 'app-1', state: 'running' } },
    });
    const web = await runJson<ExplainJson>(['explain', 'web:2', '-p', policy, '--json']);
    expect(web).toMatchObject({ imageId: facts.idOf('web'), deleted: true, rule: 'unused', kept: null });
    // One of its two names is untagged first, the other goes with the image. A digest reference goes with its
    // repository's tag: deleted with the image if that tag is the one left, else when it is untagged (Podman
    // lists one per named repository, derived from the names: it is never untagged itself).
    const listed = facts.listed.find((i) => i.Id === facts.idOf('web'))!;
    const fate = new Map(web.references.map((r) => [r.ref, r.fate]));
    expect([...fate.keys()].toSorted()).toEqual([...listed.RepoTags!, ...listed.RepoDigests!].toSorted());
    const tags = listed.RepoTags!;
    expect(tags.map((t) => fate.get(t)).toSorted()).toEqual(['delete', 'untag']);
    const last = tags.find((t) => fate.get(t) === 'delete')!;
    for (const d of listed.RepoDigests!)
      expect(fate.get(d), d).toBe(repositoryOf(d) === repositoryOf(last) ? 'delete' : 'with-tag');
    expect(listed.RepoDigests).toHaveLength(podman ? 2 : 1);
  });

  it('apply --yes --json: the stopped container, then untags, then deletes by full ID with noprune only; children before parents; only the image in use is left', async () => {
    // What must come first is slow to answer, and every step may be in flight at once: a call sent before
    // what it depends on is answered would be handled first, and refused.
    const children = new Set(facts.listed.filter((i) => i.ParentId).map((i) => `/images/${i.Id}`));
    server.delayRequests((method, path) => {
      if (method !== 'DELETE') return 0;
      if (path.startsWith('/containers/') || !path.startsWith('/images/sha256:')) return 40;
      return children.has(path) ? 100 : 0;
    });
    const report = await runJson<ReportJson>(['apply', '-p', policy, '--yes', '--json', '--concurrency', '16']);
    expect(report.exitCode).toBe(0);
    const [engine] = report.engines;
    expect(engine!.error).toBeNull();
    expect(engine!.steps.filter((s) => s.outcome !== 'done')).toEqual([]);

    const requests = server.requests;
    expect(requests.filter((r) => r.status === 501).map(withQuery)).toEqual([]);
    const writes = requests.filter(isWrite);
    const deleted = facts.ids.filter((id) => !facts.inUse.includes(id));
    const untagged = engine!.steps.filter((s) => s.type === 'untag');
    // Exactly these calls, each once: no force, no platforms, no volumes (v), noprune on every image delete.
    expect(writes.map(withQuery).toSorted()).toEqual(
      [
        ...facts.stopped.map((c) => `DELETE /containers/${c.Id} {}`),
        ...untagged.map((s) => `DELETE /images/${s.ref!} {"noprune":"true"}`),
        ...deleted.map((id) => `${byIdPath(id)} {"noprune":"true"}`),
      ].toSorted(),
    );
    for (const w of writes) expect(w.status, withQuery(w)).toBe(w.path.startsWith('/containers/') ? 204 : 200);
    // Names are untagged only where a delete by ID follows, all but one per image.
    for (const id of deleted)
      expect(untagged.filter((s) => s.imageId === id).length, id).toBe(Math.max(0, facts.tags.get(id)!.length - 1));

    const at = (text: string) => writes.findIndex((w) => line(w) === text);
    for (const s of untagged) expect(at(`DELETE /images/${s.ref!}`)).toBeLessThan(at(byIdPath(s.imageId)));
    for (const c of facts.stopped) expect(at(`DELETE /containers/${c.Id}`)).toBeLessThan(at(byIdPath(c.ImageID)));
    if (!containerd) expect(at(byIdPath(facts.idOf('tool')))).toBeLessThan(at(byIdPath(facts.idOf('base'))));

    expect(server.imageIds().toSorted()).toEqual(facts.inUse);
  });

  if (containerd) {
    it('plan with disk.maxUsage: not evaluated on the containerd store, only maxImageBytes applies', async () => {
      writeFileSync(policy, DISK_POLICY);
      const run = await runCli(['plan', '-p', policy, ...common]);
      expect(run.code).toBe(0);
      const disk = run.stdout.split('\n').find((l) => /maxUsage/.test(l));
      expect(disk).toMatch(/not evaluated/);
      expect(disk).toMatch(/only maxImageBytes applies/);
    });
  }

  if (podman) {
    it('Podman: a name pulled by digest is untagged before the delete by ID; an image whose delete would take its kept untagged parent is kept', async () => {
      const { idOf } = facts;
      const [app, web, base, tool, old] = [idOf('app'), idOf('web'), idOf('base'), idOf('tool'), idOf('old')];
      const digest = facts.listed.find((i) => i.Id === web)!.Digest!;
      // web pulled by digest from the mirror, then tagged (the newest name first); base's names all taken away
      // (`podman untag`), so tool is built on an untagged parent, which the policy protects.
      const pulled = `mirror.local:5000/web@${digest}`;
      server.setImageNames(web, ['localhost/web:2', pulled]);
      server.setImageNames(base, []);
      writeFileSync(policy, `${POLICY}protect:\n  images: ["${base}"]\n`);

      // The digest name is a name, listed once; the repository digests are one per named repository.
      const inventory = await runJson<InventoryJson>(['inventory', '--json']);
      const listed = inventory.images.find((i) => i.id === web)!;
      expect(listed.repoTags.toSorted()).toEqual(['localhost/web:2', pulled]);
      expect(listed.repoDigests).toEqual([`localhost/web@${digest}`]);
      expect(inventory.images.find((i) => i.id === base)).toMatchObject({ repoTags: [], repoDigests: [] });

      const plan = await runJson<PlanJson>(['plan', '-p', policy, '--format', 'json']);
      expect(plan.refused).toBeNull();
      // The digest name goes by name first (Podman refuses to delete by ID an image with two names); the digest
      // of the tag's repository goes with the image.
      expect(plan.actions.filter((a) => a.type === 'untag')).toEqual([
        expect.objectContaining({ imageId: web, ref: pulled }),
      ]);
      const deletes = plan.actions.filter((a) => a.type === 'delete');
      expect(deletes.map((d) => d.imageId).toSorted()).toEqual([old, web].toSorted());
      expect(deletes.find((d) => d.imageId === web)!.refs!.toSorted()).toEqual([
        'localhost/web:2',
        `localhost/web@${digest}`,
      ]);
      // Deleting tool would remove its untagged parent on Podman before 4.6 (imgsweep keeps such images on every
      // Podman): tool stays whole, and so does its stopped container.
      expect(plan.kept.map((k) => `${k.reason} ${k.imageId}`).toSorted()).toEqual(
        [`engine-prunes-parent ${tool}`, `in-use ${app}`, `protected-id ${base}`].toSorted(),
      );
      expect(plan.kept.find((k) => k.imageId === tool)).toMatchObject({ parent: base });
      expect(plan.actions.filter((a) => a.type === 'remove-container')).toEqual([]);
      expect(await runJson<ExplainJson>(['explain', 'tool:dev', '-p', policy, '--json'])).toMatchObject({
        imageId: tool,
        deleted: false,
        kept: { reason: 'engine-prunes-parent', parent: base },
      });

      const report = await runJson<ReportJson>(['apply', '-p', policy, '--yes', '--json']);
      expect(report.exitCode).toBe(0);
      expect(report.engines[0]!.steps.filter((s) => s.outcome !== 'done')).toEqual([]);
      const writes = server.requests.filter(isWrite);
      expect(writes.map(withQuery).toSorted()).toEqual(
        [pulled, web, old].map((ref) => `DELETE /images/${ref} {"noprune":"true"}`).toSorted(),
      );
      for (const w of writes) expect(w.status, withQuery(w)).toBe(200);
      const at = (text: string) => writes.findIndex((w) => line(w) === text);
      expect(at(`DELETE /images/${pulled}`)).toBeLessThan(at(byIdPath(web)));
      expect(server.imageIds().toSorted()).toEqual([app, base, tool].toSorted());
    });

    it("Podman: an untag rule that selects a name pulled by digest untags it too (it does not go with its repository's tag there)", async () => {
      const web = facts.idOf('web');
      const pulled = `mirror.local:5000/web@${facts.listed.find((i) => i.Id === web)!.Digest!}`;
      server.setImageNames(web, ['localhost/web:2', 'mirror.local:5000/web:2', pulled]);
      writeFileSync(
        policy,
        'version: 1\nname: mirror\nrules:\n  - name: mirror\n    match: { repositories: ["mirror.local:5000/**"] }\n    action: untag\n',
      );
      // Untagging mirror.local:5000/web:2 takes only that name (libimage Untag): the digest name would stay.
      const explained = await runJson<ExplainJson>(['explain', 'localhost/web:2', '-p', policy, '--json']);
      expect(new Map(explained.references.map((r) => [r.ref, r.fate])).get(pulled)).toBe('untag');
      await runJson<ReportJson>(['apply', '-p', policy, '--yes', '--json']);
      const inventory = await runJson<InventoryJson>(['inventory', '--json']);
      expect(inventory.images.find((i) => i.id === web)?.repoTags).toEqual(['localhost/web:2']);
    });
  }

  it('the fake engine: conflicts and answers as recorded for this store and version', async () => {
    const v = `/v${api}`;
    const recorded = (name: string) => {
      const body = facts.json<{ response?: number }>(`delete-conflict-${name}.json`);
      // Podman's body carries its status; it answers 500 for several names.
      return { status: body.response ?? 409, body };
    };
    const del = (name: string) => call(server, 'DELETE', `${v}/images/${encodeURIComponent(name)}?noprune=1`);
    const stoppedImage = facts.idOf(containerd ? 'multi' : 'tool');

    // No references at all: placeholders below API 1.43 on the list (not on Podman), [] from 1.43 (and always on
    // inspect).
    const list = (await call(server, 'GET', `${v}/images/json?all=1`)).body as Listed[];
    const oldListed = list.find((i) => i.Id === facts.idOf('old')) as unknown as Record<string, unknown>;
    if (!podman && byApi(api, '1.43') < 0)
      expect(oldListed).toMatchObject({ RepoTags: ['<none>:<none>'], RepoDigests: ['<none>@<none>'] });
    else expect(oldListed).toMatchObject({ RepoTags: [], RepoDigests: [] });
    // Events as recorded: the legacy status/id/from below API 1.52 only, and on Podman always; Podman logs a
    // container's removal as remove (Docker: destroy), with cleanup after each exit.
    const events = (await call(server, 'GET', `${v}/events?since=0&until=1764633700`)).body as {
      Type: string;
      Action: string;
    }[];
    expect(events).toHaveLength(podman ? 9 : 6);
    for (const e of events) expect('status' in e).toBe(podman || byApi(api, '1.52') < 0);
    expect(events.filter((e) => e.Type === 'container').map((e) => e.Action)).toEqual(
      podman ? ['start', 'die', 'cleanup', 'die', 'cleanup', 'remove'] : ['start', 'die', 'die', 'destroy'],
    );

    expect(await del(facts.idOf('web'))).toEqual(recorded('multiple-repositories'));
    expect(await del(appName)).toEqual(recorded('in-use'));
    expect(await del(facts.idOf('app'))).toEqual(recorded('running'));
    expect(await del(stoppedImage)).toEqual(recorded('stopped'));
    if (!containerd && !podman) expect(await del(facts.idOf('base'))).toEqual(recorded('child'));
    expect(await del(baseLatest)).toEqual({ status: 200, body: facts.json('delete-untag.json') });
    // Podman finds a short name under localhost/ and answers with the name it found.
    expect(await del('web:2')).toEqual({ status: 200, body: [{ Untagged: webName }] });
    expect(await del(facts.idOf('web'))).toEqual({ status: 200, body: facts.json('delete-image.json') });
    expect(await del(facts.idOf('old'))).toEqual({ status: 200, body: facts.json('delete-dangling.json') });
    expect(await del(facts.idOf('old'))).toMatchObject({
      status: 404,
      ...(podman ? { body: { cause: 'image not known', response: 404 } } : {}),
    });
    // A running container is not removed without force: 409 from Docker, 500 from Podman (imgsweep counts both
    // as a conflict).
    const app1 = facts.containers.find((c) => c.State === 'running')!;
    expect(await call(server, 'DELETE', `${v}/containers/${app1.Id}`)).toMatchObject(
      podman ? { status: 500, body: { cause: 'container state improper', response: 500 } } : { status: 409 },
    );
    // Forced deletes are not modelled; a client newer than Docker is refused as Docker does (Podman checks no
    // version range, and the folder holds one version's shapes).
    expect(await call(server, 'DELETE', `${v}/images/${appName}?force=1`)).toMatchObject({ status: 501 });
    expect(await call(server, 'GET', '/v1.99/info')).toEqual(
      podman
        ? { status: 501, body: { message: `fake engine: serves the shapes of API ${api} only, not 1.99` } }
        : {
            status: 400,
            body: { message: `client version 1.99 is too new. Maximum supported API version is ${api}` },
          },
    );
    let gone = [facts.idOf('web'), facts.idOf('old')];
    if (podman) {
      // No child conflict: by ID with its last name, base goes from the list though tool is built on it; the
      // answer has no Deleted (the layers stay for tool), and tool shows no parent.
      const base = facts.idOf('base');
      expect(await del(base)).toMatchObject({ status: 500, body: { response: 500 } });
      expect(await del('mirror.local:5000/base:3.20')).toEqual({
        status: 200,
        body: [{ Untagged: 'mirror.local:5000/base:3.20' }],
      });
      expect(await del(base)).toEqual({ status: 200, body: [{ Untagged: 'localhost/base:3.20' }] });
      const after = (await call(server, 'GET', `${v}/images/json?all=1`)).body as Listed[];
      expect(after.find((i) => i.Id === facts.idOf('tool'))).toMatchObject({ ParentId: '' });
      gone = [...gone, base];
    }
    expect(server.imageIds().toSorted()).toEqual(facts.ids.filter((id) => !gone.includes(id)));
  });
});
