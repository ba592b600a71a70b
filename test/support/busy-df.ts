/**
 * Two ways to keep a real dockerd's /system/df busy, as other clients do on a real host:
 * - `hammerDiskUsage`: other clients asking /system/df in a loop (what `docker system df` or a monitoring agent
 *   does), so that imgsweep's own calls meet 500 "a disk usage operation is already running";
 * - `busyDiskUsageProxy`: a socket in front of the daemon that passes every call through but answers /system/df
 *   with that 500 every time, as if the engine never got free.
 */
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { getOnSocket } from './dockerd.js';

export const BUSY = 'a disk usage operation is already running';

export interface Hammer {
  /** Answers the hammering clients got: served, and refused because another df ran (imgsweep's, or theirs). */
  counts: { ok: number; busy: number; other: number };
  stop(): Promise<void>;
}

/**
 * `clients` loops of GET /system/df on the daemon's socket until stopped, each resting up to `restMs` between
 * calls as a polling agent does (with no rest at all, another client would hardly ever get a turn).
 */
export function hammerDiskUsage(socketPath: string, clients = 2, restMs = 50): Hammer {
  const counts = { ok: 0, busy: 0, other: 0 };
  let running = true;
  const loop = async (): Promise<void> => {
    while (running) {
      const r = await getOnSocket(socketPath, '/system/df');
      if (r?.status === 200) counts.ok++;
      else if (r?.status === 500 && r.body.includes(BUSY)) counts.busy++;
      else counts.other++;
      await new Promise((resolve) => setTimeout(resolve, Math.random() * restMs));
    }
  };
  const loops = Array.from({ length: clients }, loop);
  return {
    counts,
    stop: async () => {
      running = false;
      await Promise.all(loops);
    },
  };
}

export interface Proxy {
  /** unix://… of the proxy's socket. */
  host: string;
  /** /system/df calls it refused. */
  refused: number;
  close(): Promise<void>;
}

/** A pass-through proxy on `dir`/busy-df.sock to the daemon at `socketPath`, whose /system/df is always busy. */
export async function busyDiskUsageProxy(socketPath: string, dir: string): Promise<Proxy> {
  const path = join(dir, 'busy-df.sock');
  const proxy: Proxy = { host: `unix://${path}`, refused: 0, close: () => Promise.resolve() };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (/^(\/v[\d.]+)?\/system\/df(\?|$)/.test(req.url ?? '')) {
      proxy.refused++;
      res.writeHead(500, { 'Content-Type': 'application/json' });
      return res.end(JSON.stringify({ message: BUSY }));
    }
    const upstream = request({ socketPath, path: req.url, method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  proxy.close = async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return proxy;
}
