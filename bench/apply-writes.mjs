/**
 * The apply benchmark's floor for a tool on imgsweep's engine client: only the writes imgsweep sends (per image:
 * DELETE each extra tag, then DELETE by ID with noprune; CONCURRENCY images at a time, like --concurrency), through
 * dockerode with its defaults (Node's global agent, which keeps connections alive), with no policy, inventory,
 * plan, checks or report. Run as a script, it is a fresh `node` process doing just that (so it pays Node's start
 * and dockerode's load) and printing its timings; apply.bench.mjs also calls sendWrites() from its own, warm,
 * process.
 *
 *   node bench/apply-writes.mjs SOCKET [CONCURRENCY]
 */
import Docker from 'dockerode';

/** Lists the engine's images and deletes them all that way; returns { listMs, writesMs, images }. */
export async function sendWrites(socketPath, concurrency) {
  const docker = new Docker({ socketPath });
  // dockerode puts names into paths as they are.
  const remove = (ref) => docker.getImage(encodeURIComponent(ref)).remove({ noprune: true });
  const t0 = performance.now();
  const images = await docker.listImages();
  const t1 = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < images.length) {
      const image = images[next++];
      // A failed write rejects with the engine's answer.
      for (const tag of image.RepoTags.slice(1)) await remove(tag);
      await remove(image.Id);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { listMs: t1 - t0, writesMs: performance.now() - t1, images: images.length };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [socket, concurrency = '4'] = process.argv.slice(2);
  console.log(JSON.stringify(await sendWrites(socket, Number(concurrency))));
}
