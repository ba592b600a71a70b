/** The engine's image and container inventory, in imgsweep's own words. Times are ISO-8601 UTC strings. */

export type EngineKind = 'docker' | 'podman';

export interface EngineIdentity {
  /** Stable identity: a hash of the engine's /info ID, data root and name (daemons on one host can share ID). */
  key: string;
  id: string;
  name: string;
  kind: EngineKind;
  version: string;
  apiVersion: string;
  rootDir: string;
  driver: string;
  /** "classic" graph-driver image store or containerd's snapshotter store. */
  imageStore: 'classic' | 'containerd';
  /** The containerd store: where containerd keeps the images, when the engine says (absent: it does not). */
  containerdRoot?: string;
  /** Where the engine was reached (unix:///var/run/docker.sock, tcp://host:2376, ...). */
  host: string;
}

export type ContainerState = 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';

/** States in which a container is, or may any moment be, running: its images are never touched. */
export function isRunning(state: ContainerState): boolean {
  return state === 'running' || state === 'paused' || state === 'restarting' || state === 'removing';
}

export interface ContainerRecord {
  id: string;
  names: string[];
  /** Full image ID (sha256:...) the container was created from. */
  imageId: string;
  /** What the user typed (informational only; never used to decide use). */
  image: string;
  state: ContainerState;
  created: string;
  startedAt: string | null;
  finishedAt: string | null;
  /** Image IDs used by image-type mounts. */
  mountImageIds: string[];
}

export interface ImageRecord {
  /** Full ID, "sha256:<64 hex>". */
  id: string;
  parentId: string | null;
  /** "repo:tag" as the engine lists it. */
  repoTags: string[];
  /** "repo@sha256:..." as the engine lists it. */
  repoDigests: string[];
  created: string;
  /** Bytes, including parent layers. */
  size: number;
  /** Bytes shared with other images, when the engine reports it. */
  sharedSize: number | null;
  labels: Record<string, string>;
  /** RootFS layer digests with their sizes, when fetched (reclaim estimate). */
  layers?: { digest: string; size: number }[];
  /**
   * The containerd store's platforms of a multi-platform image (its index): how many it lists, and how many were
   * pulled. Deleting the image deletes every one of them.
   */
  platforms?: { total: number; available: number };
}

/** One BuildKit build-cache record, as the engine's /system/df lists it. */
export interface BuildCacheRecord {
  id: string;
  parents: string[];
  /** regular, exec.cachemount, source.local, source.git.checkout, frontend, internal. */
  type: string;
  description: string;
  /** A build is using it now: it is never removed. */
  inUse: boolean;
  /** An image shares its data. */
  shared: boolean;
  size: number;
  createdAt: string;
  lastUsedAt: string | null;
  usageCount: number;
}

export interface UsageEntry {
  firstSeen: string;
  lastUsed: string;
  /** Where lastUsed came from: "container", "event", "first-seen", "created". */
  source?: string;
}

/** What a registry said of one repository digest (repo@sha256:…): whether it still serves it. */
export interface RegistryAnswer {
  status: 'present' | 'absent' | 'unknown';
  /** The registry asked, as the Docker CLI names it (docker.io for Docker Hub). */
  registry: string;
  /** unknown: why it could not be asked (never a credential). */
  reason: string | null;
  /** When it was asked (ISO). */
  at: string;
}

export interface Inventory {
  kind: 'imgsweep-inventory';
  version: 1;
  capturedAt: string;
  engine: EngineIdentity;
  images: ImageRecord[];
  containers: ContainerRecord[];
  /** The usage record the snapshot was taken with, by image ID. */
  usage: Record<string, UsageEntry>;
  /**
   * The filesystem holding the engine's images (its data root; containerd's root on the containerd store), when
   * measurable. availableBytes: what ordinary users may still write (as df's Avail; absent in older snapshots).
   */
  disk?: { totalBytes: number; usedBytes: number; availableBytes?: number; path: string } | null;
  /** Why `disk` is null: what kept it from being measured. */
  diskUnmeasured?: string;
  /** Why the images carry no layers: the engine's disk accounting could not be had, so no estimate can be made. */
  accountingUnavailable?: string;
  /** Registries' answers for the repository digests of the images a policy asked about, by digest reference. */
  registry?: {
    answers: Record<string, RegistryAnswer>;
    /** Requests made to registries for them (token requests included). */
    calls?: number;
  };
  /**
   * The engine's BuildKit build cache; null: it keeps none imgsweep can read (Podman); absent: not read (an older
   * snapshot, or a plan with no buildCache section).
   */
  buildCache?: BuildCacheRecord[] | null;
  /** Why the build cache could not be read (the engine's /system/df failed): nothing of it may be removed. */
  buildCacheUnavailable?: string;
}
