/**
 * The image store of the fake engine (fake-engine-server.ts): its images and their references, how a name
 * resolves, and what DELETE /images/{name} does on each store, after the sources at the tags
 * test/fixtures/engine-api/SOURCES.md names: the classic store's daemon/images/image_delete.go (unchanged in what
 * it decides from 20.10 to 29.0), the containerd store's daemon/containerd/image_delete.go (27.5, 29.0), and
 * Podman 5's compat handler (pkg/api/handlers/compat/images_remove.go, then libimage's removeRecursive, the same
 * at v5.7.1 and v5.8.2). Conflict bodies are the folder's recorded delete-conflict-*.json, with the image,
 * reference and container at hand put in.
 *
 * Podman: an image has names (tags, and a repo@digest it was pulled by), and its RepoDigests are every name's
 * repository with every digest it has. By a name while it has others, DELETE untags that name (and never looks at
 * containers); by ID while it has several names, 500 "more than one tag"; otherwise the image goes, 409 if any
 * container uses it. There is no child conflict: a parent goes from the list and its answer has no `Deleted`.
 * `noprune` is honoured (since 4.6). Answers list `Deleted` (bare IDs) before `Untagged` (full names); errors
 * are `{cause, message, response}`.
 *
 * Simplified: image-type mounts do not count as use; a successful delete answers the folder's recorded
 * delete-*.json when the references it removes are the recorded ones, else the same shape without released layer
 * IDs (the classic store lists them; the fixtures record only some); the containerd store's own `moby-dangling@`
 * records (which a forced delete or a child image leaves) are not made: an image whose last name goes is deleted
 * or refused. Forced and per-platform deletes, and a delete without noprune of an image with a parent (whose
 * untagged parents the engines would prune), answer 501. Podman: a short name is tried as localhost/ and
 * docker.io/ only (Podman also tries the search registries of registries.conf and matches a repository's last path
 * components); `ignore` is not read.
 */

export type Json = Record<string, unknown>;
export type StoreKind = 'classic' | 'containerd' | 'podman';

/** A container as GET /containers/json lists it (the fields this server reads; the rest are passed through). */
export interface ContainerSummary {
  Id: string;
  Names: string[];
  Image: string;
  ImageID: string;
  State: string;
  Created: number;
  [key: string]: unknown;
}

export interface StoredImage {
  id: string;
  parentId: string | null;
  /**
   * Its tags now (familiar repo:tag), in the order the engine lists them. Podman: its names (full, a repo@digest
   * it was pulled by among them).
   */
  tags: string[];
  /**
   * Classic store: the digest references it carries now (repo@sha256:…), kept apart from tags as the reference
   * store does. containerd store: unused; its digests are derived from the names (digestsOf). Podman: references
   * whose digests it has (its RepoDigests are derived from them and the names).
   */
  digests: string[];
  list: Json;
  manifests: Json | null;
  inspect: Json;
  history: Json[];
  /** The recorded answer to a delete of this image, if a fixture has one. */
  deleteAnswer: Json[] | null;
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** The answer's body, when not Docker's {message}. */
    readonly body?: Json,
  ) {
    super(message);
  }
}

/** Podman's errors (utils.Error): `cause` is the innermost wrapped error. */
export const podmanError = (status: number, message: string, cause = message) =>
  new HttpError(status, message, { cause, message, response: status });

/** stringid.TruncateID: no `sha256:`, 12 characters. */
export const short = (id: string) => id.replace(/^sha256:/, '').slice(0, 12);
export const repositoryOf = (ref: string) => ref.replace(/@.*$/, '').replace(/:[^:/]+$/, '');
/** Docker's httputils.BoolValue: anything but "", "0", "no", "false", "none". */
export const truthy = (v: string | undefined) =>
  v !== undefined && !['', '0', 'no', 'false', 'none'].includes(v.trim().toLowerCase());
/** State.IsRunning: true while paused or restarting too. */
export const running = (c: ContainerSummary) => ['running', 'paused', 'restarting'].includes(c.State);

const isIdLike = (name: string) => /^(sha256:)?[0-9a-f]{12,64}$/.test(name);
/** reference.FamiliarString of a parsed name, with reference.TagNameOnly's default tag. */
const familiar = (name: string) => {
  const f = name.replace(/^docker\.io\/(library\/)?/, '');
  return f.includes('@') || /:[^:/]+$/.test(f) ? f : `${f}:latest`;
};
/** The fully qualified name the classic reference store sorts by (lexicalRefs compares String()). */
export const qualified = (ref: string) => {
  const first = ref.split('/')[0]!;
  if (ref.includes('/') && (/[.:]/.test(first) || first === 'localhost')) return ref;
  return `docker.io/${ref.includes('/') ? '' : 'library/'}${ref}`;
};

export interface ImageStore {
  kind: StoreKind;
  images: Map<string, StoredImage>;
  resolve(name: string): StoredImage | null;
  /** RepoDigests as the list (inspect false) or an inspect (true) shows them now. */
  digestsOf(image: StoredImage, inspect: boolean): string[];
  deleteImage(name: string, query: Record<string, string>): Json[];
  /** Podman: sets an image's names, as `podman pull repo@digest`, `podman tag` or `podman untag` would. */
  setNames(image: StoredImage, names: string[]): void;
}

export function imageStore(
  kind: StoreKind,
  images: Map<string, StoredImage>,
  containers: ContainerSummary[],
  /** The recorded body of delete-conflict-<name>.json. */
  recordedConflict: (name: string) => Json,
): ImageStore {
  /**
   * Classic: the references it carries. containerd: the recorded ones of repositories that still carry a name
   * (the store derives them from the names: inspect lists one per name, the list one); a bare digest (an index
   * with no platform left) has no repository and stays. Podman (libimage RepoDigests): each name's repository
   * with each digest, sorted, in the list and inspect alike.
   */
  function digestsOf(image: StoredImage, inspect: boolean): string[] {
    if (kind === 'classic') return image.digests;
    if (kind === 'podman') {
      const digests = new Set(image.digests.map((d) => d.slice(d.indexOf('@') + 1)));
      const repos = new Set(image.tags.map(repositoryOf));
      return [...repos].flatMap((r) => [...digests].map((d) => `${r}@${d}`)).sort();
    }
    const recorded = (inspect ? image.inspect : image.list).RepoDigests;
    const repos = new Set(image.tags.map(repositoryOf));
    return (Array.isArray(recorded) ? recorded.map(String) : []).filter(
      (d) => !d.includes('@') || repos.has(repositoryOf(d)),
    );
  }

  /** The image a name or ID points at (full ID, ID prefix, repo:tag, a name without tag, repo@digest). */
  function resolve(name: string): StoredImage | null {
    if (kind === 'podman') return lookupPodman(name)?.image ?? null;
    if (isIdLike(name)) {
      const hex = name.replace(/^sha256:/, '');
      const found = [...images.values()].filter((i) => i.id.slice(7).startsWith(hex));
      // An ambiguous prefix finds nothing (the engines answer 404).
      if (found.length === 1) return found[0]!;
    }
    const ref = familiar(name);
    if (ref.includes('@')) return [...images.values()].find((i) => digestsOf(i, true).includes(ref)) ?? null;
    return [...images.values()].find((i) => i.tags.includes(ref)) ?? null;
  }

  const conflictError = (
    which: string,
    at: { image: StoredImage; reference?: string; container?: ContainerSummary },
  ): HttpError => {
    const subject = at.reference ?? short(at.image.id);
    const message = String(recordedConflict(which).message)
      .replace(/unable to delete \S+/, `unable to delete ${subject}`)
      .replace(/repository reference "[^"]*"/, `repository reference ${JSON.stringify(subject)}`)
      .replace(/container [0-9a-f]{12}/, (was) => (at.container ? `container ${short(at.container.Id)}` : was))
      .replace(/referenced image [0-9a-f]{12}/, `referenced image ${short(at.image.id)}`);
    return new HttpError(409, message);
  };
  const usersOf = (image: StoredImage) => containers.filter((c) => c.ImageID === image.id);

  /** Deletes the image; its remaining references are untagged first. `before`: what the call untagged already. */
  function remove(image: StoredImage, before: string[]): Json[] {
    const refs =
      kind === 'classic'
        ? [...image.tags, ...image.digests].sort((a, b) => (qualified(a) < qualified(b) ? -1 : 1))
        : image.tags;
    const untagged = [...before, ...refs];
    images.delete(image.id);
    const recorded = image.deleteAnswer;
    const recordedUntagged = (recorded ?? []).filter((e) => typeof e.Untagged === 'string').map((e) => e.Untagged);
    if (recorded && recordedUntagged.length === untagged.length && untagged.every((u) => recordedUntagged.includes(u)))
      return recorded;
    return [...untagged.map((u) => ({ Untagged: u })), { Deleted: image.id }];
  }

  // --- classic store (daemon/images/image_delete.go) ---

  /** isSingleReference: at most one tag, and every digest reference in that tag's repository. */
  function singleReference(image: StoredImage): boolean {
    const { tags, digests } = image;
    if (tags.length + digests.length <= 1) return tags.length + digests.length === 1;
    if (tags.length > 1) return false;
    const repos = new Set(digests.map(repositoryOf));
    return repos.size === 1 && repos.has(repositoryOf(tags[0] ?? digests[0]!));
  }

  /** checkImageDeleteConflict, in its order: children, a running container, references, a stopped container. */
  function classicConflict(image: StoredImage, withReferences: boolean): HttpError | null {
    if ([...images.values()].some((i) => i.parentId === image.id)) return conflictError('child', { image });
    const users = usersOf(image);
    const active = users.find(running);
    if (active) return conflictError('running', { image, container: active });
    if (withReferences && image.tags.length + image.digests.length > 0)
      return conflictError('multiple-repositories', { image });
    const stopped = users.find((c) => !running(c));
    return stopped ? conflictError('stopped', { image, container: stopped }) : null;
  }

  /** removeImageRef; a tag that was its repository's last also takes that repository's digest references. */
  function untagClassic(image: StoredImage, ref: string): string[] {
    if (ref.includes('@')) {
      image.digests = image.digests.filter((d) => d !== ref);
      return [ref];
    }
    image.tags = image.tags.filter((t) => t !== ref);
    if (image.tags.some((t) => repositoryOf(t) === repositoryOf(ref))) return [ref];
    const gone = image.digests.filter((d) => repositoryOf(d) === repositoryOf(ref));
    image.digests = image.digests.filter((d) => !gone.includes(d));
    return [ref, ...gone];
  }

  function deleteClassic(image: StoredImage, name: string, byId: boolean): Json[] {
    if (byId) {
      // By ID: a single reference goes with the image; several are a conflict (checked among the others).
      const conflict = classicConflict(image, !singleReference(image));
      if (conflict) throw conflict;
      return remove(image, []);
    }
    if (singleReference(image)) {
      // The client's name as given, in the message (%q of imageRef).
      const user = usersOf(image)[0];
      if (user) throw conflictError('in-use', { image, reference: name, container: user });
    }
    const untagged = untagClassic(image, familiar(name));
    if (image.tags.length + image.digests.length > 0) return untagged.map((u) => ({ Untagged: u }));
    // Its last reference went: deleted quietly, i.e. kept on a conflict (only child images can be left here).
    if (classicConflict(image, false)) return untagged.map((u) => ({ Untagged: u }));
    return remove(image, untagged);
  }

  // --- containerd store (daemon/containerd/image_delete.go) ---

  /** deleteAll after checkImageDeleteConflict: running, stopped, then names other than one name:tag. */
  function deleteAllContainerd(image: StoredImage, names: boolean): Json[] {
    const users = usersOf(image);
    const user = users.find(running) ?? users[0];
    if (user) throw conflictError(running(user) ? 'running' : 'stopped', { image, container: user });
    if (names && image.tags.length > 1) throw conflictError('multiple-repositories', { image });
    return remove(image, []);
  }

  function deleteContainerd(image: StoredImage, name: string, byId: boolean): Json[] {
    if (byId) return deleteAllContainerd(image, true);
    const ref = familiar(name);
    // getSameReferences: a tag is itself; a digest stands for every name of its repository.
    const same = ref.includes('@') ? image.tags.filter((t) => repositoryOf(t) === repositoryOf(ref)) : [ref];
    const left = image.tags.filter((t) => !same.includes(t));
    if (left.length > 0) {
      // Untags only; containers are not looked at.
      image.tags = left;
      return same.map((t) => ({ Untagged: t }));
    }
    if (ref.includes('@')) return deleteAllContainerd(image, false);
    const user = usersOf(image)[0];
    if (user) throw conflictError('in-use', { image, reference: ref, container: user });
    return remove(image, []);
  }

  // --- Podman 5 (compat/images_remove.go, libimage runtime.go LookupImage and image.go removeRecursive) ---

  /**
   * The image and the name it was found by (null: by ID), as NormalizeToDockerHub and LookupImage resolve it: an
   * ID or ID prefix; else a name as given or, if short, under localhost/ then docker.io, `:latest` when it has
   * neither tag nor digest; a repo@digest also finds an image with that repository and digest.
   */
  function lookupPodman(name: string): { image: StoredImage; resolved: string | null } | null {
    const all = [...images.values()];
    if (isIdLike(name)) {
      const hex = name.replace(/^sha256:/, '');
      const found = all.filter((i) => i.id.slice(7).startsWith(hex));
      if (found.length === 1) return { image: found[0]!, resolved: null };
    }
    const ref = name.includes('@') || /:[^:/]+$/.test(name) ? name : `${name}:latest`;
    const short = qualified(ref) !== ref;
    for (const candidate of short ? [`localhost/${ref}`, qualified(ref)] : [ref]) {
      const image =
        all.find((i) => i.tags.includes(candidate)) ??
        (candidate.includes('@') ? all.find((i) => digestsOf(i, false).includes(candidate)) : undefined);
      if (image) return { image, resolved: candidate };
    }
    return null;
  }

  function deletePodman(name: string, noprune: boolean): Json[] {
    const found = lookupPodman(name);
    // Not found, the name is qualified with docker.io (NormalizeToDockerHub) before it is looked up again.
    if (!found)
      throw podmanError(404, `failed to find image ${name}: ${qualified(name)}: image not known`, 'image not known');
    const { image, resolved } = found;
    const names = image.tags;
    const bare = image.id.slice(7);
    if (names.length > 1) {
      if (resolved === null) {
        const put = (text: unknown) =>
          String(text)
            .replace(/"[0-9a-f]{64}"/, JSON.stringify(bare))
            .replace(/\(\[[^\]]*\]\)/, `([${names.join(' ')}])`);
        const recorded = recordedConflict('multiple-repositories');
        throw new HttpError(500, put(recorded.message), {
          ...recorded,
          cause: put(recorded.cause),
          message: put(recorded.message),
        });
      }
      // Untag only, of a name it has (a repo@digest that is no name is "tag not known").
      if (!names.includes(resolved)) throw podmanError(500, `${resolved}: tag not known`, 'tag not known');
      image.tags = names.filter((n) => n !== resolved);
      return [{ Untagged: resolved }];
    }
    // Its only name, or none: the image goes, whatever it was asked by.
    const user = usersOf(image)[0];
    if (user) {
      // One error whatever the container's state: store.DeleteImage refuses while any container uses the image.
      const recorded = recordedConflict('in-use');
      const message = String(recorded.message).replace(
        /^image \S+ is in use: image used by [0-9a-f]+/,
        `image ${name} is in use: image used by ${user.Id}`,
      );
      throw new HttpError(409, message, { ...recorded, message });
    }
    // noprune is honoured since Podman 4.6; pruning an untagged parent is not modelled.
    if (!noprune && image.parentId !== null && images.has(image.parentId))
      throw new HttpError(501, 'fake engine: DELETE /images of an image with a parent needs noprune here');
    const hasChildren = [...images.values()].some((i) => i.parentId === image.id);
    images.delete(image.id);
    // Removed is reported only without children: a parent's record goes, its layers stay for them.
    return [...(hasChildren ? [] : [{ Deleted: bare }]), ...names.map((n) => ({ Untagged: n }))];
  }

  function setNames(image: StoredImage, names: string[]): void {
    if (kind !== 'podman') throw new Error('fake engine: names are set only on a Podman store');
    image.tags = [...names];
    // A name pulled by digest adds that digest to the image's own.
    image.digests = [...image.digests, ...names.filter((n) => n.includes('@'))];
  }

  function deleteImage(name: string, query: Record<string, string>): Json[] {
    // A forced or per-platform delete (delete-platform*.json) is not modelled: answered 501, so it shows.
    if (truthy(query.force) || query.platforms !== undefined)
      throw new HttpError(501, 'fake engine: DELETE /images with force or platforms is not served');
    if (kind === 'podman') return deletePodman(name, truthy(query.noprune));
    const image = resolve(name);
    if (!image) throw new HttpError(404, `No such image: ${name}`);
    // Without noprune the engines also delete untagged parents: not modelled either.
    if (!truthy(query.noprune) && image.parentId !== null)
      throw new HttpError(501, 'fake engine: DELETE /images of an image with a parent needs noprune here');
    const byId = isIdLike(name) && image.id.slice(7).startsWith(name.replace(/^sha256:/, ''));
    return kind === 'classic' ? deleteClassic(image, name, byId) : deleteContainerd(image, name, byId);
  }

  return { kind, images, resolve, digestsOf, deleteImage, setNames };
}
