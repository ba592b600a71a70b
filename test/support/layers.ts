/** Bytes on disk freed when `gone` are deleted: each layer (a diff on its stack) once its last user goes. */
export function freedBytes(
  images: readonly { id: string; layers?: { digest: string; size: number }[] }[],
  gone: ReadonlySet<string>,
): number {
  const users = new Map<string, { size: number; left: number }>();
  for (const i of images) {
    let key = '';
    for (const l of i.layers ?? []) {
      key += `/${l.digest}`;
      const u = users.get(key) ?? { size: l.size, left: 0 };
      if (!gone.has(i.id)) u.left++;
      users.set(key, u);
    }
  }
  return [...users.values()].reduce((s, u) => s + (u.left === 0 ? u.size : 0), 0);
}
