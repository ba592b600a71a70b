/**
 * The reclaim estimate on the containerd image store, from the recorded API 1.52 shapes (fake engine; see
 * test/support/fake-engine-server.ts): an image frees its disk usage, compressed content and unpacked layers of
 * every pulled platform, not the unpacked layers its history sizes; a platform never pulled frees nothing.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { DEFAULT_FIXTURES, startFakeEngine, type FakeEngineServer } from '../support/fake-engine-server.js';

interface Listed {
  Id: string;
  RepoTags: string[];
  Size: number;
  Manifests: { Kind: string; Available: boolean; Size: { Total: number; Content: number } }[];
}
const LISTED = JSON.parse(readFileSync(join(DEFAULT_FIXTURES, 'images-manifests.json'), 'utf8')) as Listed[];
const named = (tag: string) => LISTED.find((i) => i.RepoTags.includes(tag))!;

const POLICY = `version: 1
containers:
  stopped: remove
rules:
  - name: unused
    match: { unused: true }
    olderThan: 1d
`;

let server: FakeEngineServer;
let dir: string;
beforeAll(async () => {
  server = await startFakeEngine();
  dir = mkdtempSync(join(tmpdir(), 'imgsweep-containerd-estimate-'));
  writeFileSync(join(dir, 'policy.yaml'), POLICY);
});
afterAll(async () => {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('the estimate on the containerd store (recorded API 1.52 shapes)', () => {
  it('each delete frees its disk usage: content and unpacked, every pulled platform, nothing for one never pulled', async () => {
    const run = await runCli([
      'plan',
      '-p',
      join(dir, 'policy.yaml'),
      '--host',
      server.host,
      '--state-dir',
      join(dir, 'state'),
      '--now',
      '2025-12-02T12:00:00Z',
      '--registry-check',
      'off',
      '--format',
      'json',
    ]);
    expect(run.stderr).toBe('');
    const plan = JSON.parse(run.stdout) as {
      actions: { type: string; imageId: string; bytes?: number }[];
      summary: { bytes: number | null; estimate: string };
    };
    const bytes = new Map(plan.actions.filter((a) => a.type === 'delete').map((a) => [a.imageId, a.bytes]));

    // multi:1: amd64 pulled (content and unpacked), arm64 never pulled (0): its disk usage, not its content.
    const multi = named('multi:1');
    const [amd64, arm64] = multi.Manifests.filter((m) => m.Kind === 'image');
    expect(arm64).toMatchObject({ Available: false, Size: { Total: 0 } });
    expect(amd64!.Size.Total).toBeGreaterThan(amd64!.Size.Content);
    expect(bytes.get(multi.Id)).toBe(amd64!.Size.Total);

    // base shares its unpacked layer with app, which a running container keeps: base frees its compressed
    // content, which history does not size.
    const base = named('base:3.20');
    expect(bytes.get(named('app:1.4').Id)).toBeUndefined();
    const baseContent = base.Manifests.reduce((s, m) => s + m.Size.Content, 0);
    expect(baseContent).toBeGreaterThan(0);
    expect(bytes.get(base.Id)).toBe(baseContent);

    // Images that share nothing free their listed size: web:2 and the dangling one.
    const web = named('web:2');
    expect(bytes.get(web.Id)).toBe(web.Size);
    expect(plan.summary).toMatchObject({ estimate: 'layers' });
    expect(plan.summary.bytes).toBe([...bytes.values()].reduce((s: number, b) => s + (b ?? 0), 0));
  });
});
