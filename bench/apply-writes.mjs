/**
 * The apply benchmark's lower bound for a tool written in Node: only the writes imgsweep sends (per image:
 * DELETE each extra tag, then DELETE by ID with noprune; CONCURRENCY images at a time, like --concurrency), with
 * no policy, inventory, plan, checks or report. Run as a script, it is a fresh `node` process doing just that
 * and printing its timings; apply.bench.mjs also calls sendWrites() from its own, warm, process.
 *
 *   node bench/apply-writes.mjs SOCKET [CONCURRENCY]
 */
import { Agent, request } from 'node:http';

/** Lists the engine's images and deletes them all that way; returns { listMs, writesMs, images }. */
export async function sendWrites(socket, concurrency) {
  const agent = new Agent({ keepAlive: true });
  const call = (method, path) =>
    new Promise((resolve, reject) => {
      const req = request({ socketPath: socket, agent, method, path }, (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode, body }));
      });
      req.on('error', reject);
      req.end();
    });
  try {
    const t0 = performance.now();
    const images = JSON.parse((await call('GET', '/v1.41/images/json')).body);
    const t1 = performance.now();
    let next = 0;
    const worker = async () => {
      while (next < images.length) {
        const image = images[next++];
        for (const tag of image.RepoTags.slice(1)) {
          const r = await call('DELETE', `/v1.41/images/${encodeURIComponent(tag)}?noprune=1`);
          if (r.status !== 200) throw new Error(`untag ${tag}: ${r.status} ${r.body}`);
        }
        const r = await call('DELETE', `/v1.41/images/${encodeURIComponent(image.Id)}?noprune=1`);
        if (r.status !== 200) throw new Error(`delete ${image.Id}: ${r.status} ${r.body}`);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    return { listMs: t1 - t0, writesMs: performance.now() - t1, images: images.length };
  } finally {
    agent.destroy();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [socket, concurrency = '4'] = process.argv.slice(2);
  console.log(JSON.stringify(await sendWrites(socket, Number(concurrency))));
}
