/**
 * Preloaded with `node --import ./bench/max-rss.mjs ...` (scale.bench.mjs): when the process exits, writes its
 * peak resident set size in KiB (getrusage's ru_maxrss) to the file named by IMGSWEEP_BENCH_MAX_RSS.
 * Node's spawnSync does not report a child's peak memory; this works wherever Node does (no GNU time needed).
 */
import { writeFileSync } from 'node:fs';

const file = process.env.IMGSWEEP_BENCH_MAX_RSS;
if (file) process.on('exit', () => writeFileSync(file, `${process.resourceUsage().maxRSS}\n`));
