/**
 * /system/df as imgsweep asks for it, against a stub engine on a unix socket that answers as Docker 20.10 does
 * while another disk usage operation runs: 500 "a disk usage operation is already running". The real-engine
 * side (another client keeping df busy while imgsweep plans) is in test/integration/disk-busy.test.ts.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { connectEngine } from '../../src/engine/docker.js';
import { EngineError } from '../../src/errors.js';

const HEX = 'a'.repeat(64);
const DF = { LayersSize: 300, Images: [{ Id: `sha256:${HEX}`, Size: 300, SharedSize: 0 }] };

interface Stub {
  host: string;
  /** /system/df calls served so far, and the most that were in flight at once. */
  df: { calls: number; maxInFlight: number };
  close: () => Promise<void>;
}

/** `busy(n)` says whether the n-th /system/df call (from 1) is refused as busy; each answer takes `ms`. */
async function stub(busy: (n: number) => boolean, ms = 20): Promise<Stub> {
  const dir = await mkdtemp(join(tmpdir(), 'imgsweep-df-'));
  const socket = join(dir, 'docker.sock');
  const df = { calls: 0, maxInFlight: 0 };
  let inFlight = 0;
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '').replace(/^\/v[\d.]+/, '').replace(/\?.*$/, '');
    const answer = (status: number, body: unknown) => {
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (path === '/version')
      return answer(200, {
        ApiVersion: '1.41',
        MinAPIVersion: '1.12',
        Version: '20.10.24',
        Components: [{ Name: 'Engine' }],
      });
    if (path === '/info')
      return answer(200, {
        ID: 'STUB:ENGINE',
        Name: 'stub',
        DockerRootDir: '/var/lib/docker',
        Driver: 'overlay2',
        DriverStatus: [],
      });
    if (path !== '/system/df') return answer(404, { message: 'not here' });
    const n = ++df.calls;
    df.maxInFlight = Math.max(df.maxInFlight, ++inFlight);
    setTimeout(() => {
      inFlight--;
      if (busy(n)) answer(500, { message: 'a disk usage operation is already running' });
      else answer(200, DF);
    }, ms);
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  return {
    host: `unix://${socket}`,
    df,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

describe('diskUsage (/system/df)', () => {
  let close: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await close?.();
    close = undefined;
  });

  it('retries an engine busy with another disk usage operation, and gets the figures', async () => {
    const s = await stub((n) => n <= 3);
    close = s.close;
    const engine = await connectEngine({ host: s.host, env: {} });
    try {
      expect(await engine.diskUsage()).toEqual({
        layersSize: 300,
        sharedSize: new Map([[`sha256:${HEX}`, 0]]),
        sizes: new Map([[`sha256:${HEX}`, 300]]),
        buildCache: [],
      });
      expect(s.df.calls).toBe(4);
    } finally {
      engine.close();
    }
  });

  it('asks one at a time: calls made together never overlap at the engine, and all get the figures', async () => {
    const s = await stub(() => false, 50);
    close = s.close;
    const engine = await connectEngine({ host: s.host, env: {} });
    try {
      const answers = await Promise.all([engine.diskUsage(), engine.diskUsage(), engine.diskUsage()]);
      expect(answers.map((a) => a?.layersSize)).toEqual([300, 300, 300]);
      expect(s.df).toEqual({ calls: 3, maxInFlight: 1 });
    } finally {
      engine.close();
    }
  });

  it('gives up when the engine stays busy past the timeout, saying why and how often it asked', async () => {
    const s = await stub(() => true);
    close = s.close;
    const engine = await connectEngine({ host: s.host, env: {}, timeoutMs: 1_500 });
    try {
      const started = Date.now();
      const error = await engine.diskUsage().then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(EngineError);
      expect((error as Error).message).toMatch(
        /^\/system\/df: a disk usage operation is already running, after \d+ tries in [12] s$/,
      );
      expect(s.df.calls).toBeGreaterThan(2);
      expect(Date.now() - started).toBeLessThan(3_000);
    } finally {
      engine.close();
    }
  });
});
