/**
 * /system/df as imgsweep asks for it: images only where the API has the filter (1.42+), so a busy host does
 * not size every container and volume. Against a stub engine on a unix socket (the local dockerd is API 1.41).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { connectEngine } from '../../src/engine/docker.js';

const HEX = 'a'.repeat(64);

async function stub(apiVersion: string): Promise<{ host: string; urls: string[]; close: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'imgsweep-df-'));
  const socket = join(dir, 'docker.sock');
  const urls: string[] = [];
  const server: Server = createServer((req, res) => {
    urls.push(req.url ?? '');
    const path = (req.url ?? '').replace(/^\/v[\d.]+/, '').replace(/\?.*$/, '');
    const body =
      path === '/version'
        ? { ApiVersion: apiVersion, MinAPIVersion: '1.12', Version: '24.0.7', Os: 'linux', Arch: 'amd64', Components: [{ Name: 'Engine', Version: '24.0.7' }] }
        : path === '/info'
          ? { ID: 'STUB:ENGINE', Name: 'stub', DockerRootDir: '/var/lib/docker', Driver: 'overlay2', DriverStatus: [] }
          : path === '/system/df'
            ? { LayersSize: 300, Images: [{ Id: `sha256:${HEX}`, Size: 300, SharedSize: 0 }] }
            : null;
    res.writeHead(body ? 200 : 404, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(body ?? { message: 'not here' }));
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  return {
    host: `unix://${socket}`,
    urls,
    close: async () => {
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

  it.each([
    ['1.43', '/v1.43/system/df?type=image'],
    ['1.42', '/v1.42/system/df?type=image'],
    ['1.41', '/v1.41/system/df'],
  ])('API %s: asks %s', async (api, url) => {
    const s = await stub(api);
    close = s.close;
    const engine = await connectEngine({ host: s.host, env: {} });
    try {
      const df = await engine.diskUsage();
      expect(df).toEqual({ layersSize: 300, sharedSize: new Map([[`sha256:${HEX}`, 0]]), sizes: new Map([[`sha256:${HEX}`, 300]]) });
      expect(s.urls.filter((u) => u.includes('/system/df'))).toEqual([url]);
    } finally {
      engine.close();
    }
  });
});
