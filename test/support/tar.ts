/** A tiny, deterministic ustar writer for test fixtures (image archives, rootfs, build contexts). */

export type TarEntry =
  | { type: 'file'; name: string; data: Buffer | string; mode?: number }
  | { type: 'dir'; name: string; mode?: number }
  | { type: 'symlink'; name: string; target: string };

const BLOCK = 512;

function octal(value: number, width: number): string {
  return value.toString(8).padStart(width - 1, '0') + '\0';
}

function header(name: string, size: number, mode: number, typeflag: string, linkname = ''): Buffer {
  if (Buffer.byteLength(name) > 100 || Buffer.byteLength(linkname) > 100) {
    throw new Error(`tar: name too long for this writer: ${name}`);
  }
  const h = Buffer.alloc(BLOCK, 0);
  h.write(name, 0, 100, 'utf8');
  h.write(octal(mode, 8), 100, 'ascii');
  h.write(octal(0, 8), 108, 'ascii'); // uid
  h.write(octal(0, 8), 116, 'ascii'); // gid
  h.write(octal(size, 12), 124, 'ascii');
  h.write(octal(0, 12), 136, 'ascii'); // mtime 0: same content gives the same bytes, so layers can be shared
  h.write('        ', 148, 'ascii'); // checksum is computed with this field as spaces
  h.write(typeflag, 156, 'ascii');
  h.write(linkname, 157, 100, 'utf8');
  h.write('ustar\0', 257, 'ascii');
  h.write('00', 263, 'ascii');
  let sum = 0;
  for (const byte of h) sum += byte;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'ascii');
  return h;
}

/** Serializes entries in order, padded to 512-byte blocks, with the two zero blocks that end an archive. */
export function tarArchive(entries: TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    if (entry.type === 'dir') {
      const name = entry.name.endsWith('/') ? entry.name : `${entry.name}/`;
      parts.push(header(name, 0, entry.mode ?? 0o755, '5'));
    } else if (entry.type === 'symlink') {
      parts.push(header(entry.name, 0, 0o777, '2', entry.target));
    } else {
      const data = typeof entry.data === 'string' ? Buffer.from(entry.data) : entry.data;
      parts.push(header(entry.name, data.length, entry.mode ?? 0o644, '0'), data);
      const pad = (BLOCK - (data.length % BLOCK)) % BLOCK;
      if (pad > 0) parts.push(Buffer.alloc(pad, 0));
    }
  }
  parts.push(Buffer.alloc(BLOCK * 2, 0));
  return Buffer.concat(parts);
}

/** Directory entries for every parent of the given paths, so extractors need not invent them. */
export function parentDirs(paths: string[]): TarEntry[] {
  const dirs = new Set<string>();
  for (const path of paths) {
    const parts = path.split('/').slice(0, -1);
    for (let i = 1; i <= parts.length; i++) dirs.add(parts.slice(0, i).join('/'));
  }
  return [...dirs].sort().map((name) => ({ type: 'dir', name }));
}
