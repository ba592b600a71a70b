/**
 * The apply benchmark's lower bound for a tool written in Node: only the writes imgsweep sends (per image:
 * DELETE each extra tag, then DELETE by ID with noprune; CONCURRENCY images at a time, like --concurrency), with
 * no policy, inventory, plan, checks or report, over imgsweep's own transport for a local engine
 * (dist/engine/socket.js, so run `npm run build` first). Run as a script, it is a fresh `node` process doing just
 * that and printing its timings; apply.bench.mjs also calls sendWrites() from its own, warm, process.
 *
 *   node bench/apply-writes.mjs SOCKET [CONCURRENCY]
 */
import { SocketPool, SocketTransport } from '../dist/engine/socket.js';

/** Lists the engine's images and deletes them all that way; returns { listMs, writesMs, images }. */
export async function sendWrites(socket, concurrency) {
  const pool = new SocketPool(socket);
  const transport = new SocketTransport(pool, '1.41', null);
  const call = (method, path, query) => transport.call({ method, path, query, timeoutMs: 60_000 });
  try {
    const t0 = performance.now();
    const images = await call('GET', '/images/json');
    const t1 = performance.now();
    let next = 0;
    const worker = async () => {
      while (next < images.length) {
        const image = images[next++];
        // A failed write rejects with the engine's answer.
        for (const tag of image.RepoTags.slice(1)) await call('DELETE', `/images/${encodeURIComponent(tag)}`, { noprune: 1 });
        await call('DELETE', `/images/${encodeURIComponent(image.Id)}`, { noprune: 1 });
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    return { listMs: t1 - t0, writesMs: performance.now() - t1, images: images.length };
  } finally {
    pool.destroy();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [socket, concurrency = '4'] = process.argv.slice(2);
  console.log(JSON.stringify(await sendWrites(socket, Number(concurrency))));
}
