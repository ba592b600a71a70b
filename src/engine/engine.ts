import type { BuildCacheRecord, ContainerRecord, EngineIdentity, ImageRecord } from '../inventory/types.js';

/** Outcome of one write call, classified by status code. */
export type WriteOutcome =
  | { status: 'done'; deleted: string[]; untagged: string[] }
  | { status: 'gone'; message: string }
  | { status: 'conflict'; message: string }
  | { status: 'failed'; message: string; transport: boolean };

export interface EngineEvent {
  time: string;
  action: string;
  containerId: string;
  imageId: string | null;
  image: string;
}

export interface EngineDiskUsage {
  layersSize: number;
  /** Image ID -> bytes it shares with other images (images whose figure is unknown are left out). */
  sharedSize: Map<string, number>;
  /** Image ID -> its size, for every image df lists. */
  sizes: Map<string, number>;
  /** BuildKit's build-cache records (none when the engine has built nothing with BuildKit). */
  buildCache: BuildCacheRecord[];
}

/** What a build-cache removal did: the records the engine says it removed, and the bytes it freed. */
export interface CachePruneOutcome {
  deleted: string[];
  reclaimed: number;
}

export interface ImageRefs {
  id: string;
  repoTags: string[];
  repoDigests: string[];
  parentId: string | null;
}

/** Everything imgsweep asks of a container engine, in its own words. Only src/engine talks to the engine (dockerode). */
export interface Engine {
  readonly host: string;
  identity(): Promise<EngineIdentity>;
  listImages(): Promise<ImageRecord[]>;
  listContainers(): Promise<ContainerRecord[]>;
  /** Image ID a reference currently points at, or null when it points nowhere. */
  resolveReference(ref: string): Promise<string | null>;
  /** An image's current ID, references and parent (by reference or ID), or null when there is none. */
  inspectImage(ref: string): Promise<ImageRefs | null>;
  /**
   * The engine's own disk accounting (/system/df): total layer bytes and each image's shared bytes. One call at a
   * time, retried while the engine is busy; throws when it cannot be had in time. Null where the engine keeps no
   * such figures (Podman).
   */
  diskUsage(): Promise<EngineDiskUsage | null>;
  /** Layers of one image (RootFS diff IDs with sizes). */
  imageLayers(id: string): Promise<{ digest: string; size: number }[]>;
  untag(ref: string): Promise<WriteOutcome>;
  /** Delete by full ID, never with force, always with noprune. */
  deleteImage(id: string): Promise<WriteOutcome>;
  /** Remove a stopped container, never with force. */
  removeContainer(id: string): Promise<WriteOutcome>;
  /**
   * Removes the build-cache records `ids` in one request that names them and matches no other record (never one
   * in use; with `keepShared`, never one an image shares at that moment); throws when the engine refuses or cannot
   * be reached. Docker only.
   */
  pruneBuildCacheRecords(ids: string[], keepShared: boolean): Promise<CachePruneOutcome>;
  /** Registries the engine reaches over plain HTTP (its insecure-registries: names and CIDRs), from /info. */
  insecureRegistries(): string[];
  events(since: Date, until: Date): Promise<EngineEvent[]>;
  /** Follows container events from `since` until the stream ends (engine restart, idle timeout) or `signal` aborts. */
  streamEvents(since: Date, onEvent: (event: EngineEvent) => void, signal: AbortSignal): Promise<void>;
  close(): void;
}
