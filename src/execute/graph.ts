/**
 * Runs tasks with bounded concurrency while keeping every ordering constraint: a task starts only once
 * all its dependencies have finished, and only if each of them left its goal in place (`clear`). Tasks
 * that share a key never run at the same time; a ready task whose key is busy lets later ones go first, so
 * no slot waits idle behind it. What was started is finished first: a task that the end of another made
 * ready goes before tasks that were ready from the start (an image's delete right after its untags, so a run
 * stopped midway leaves few half-done images, and the engine gets untags and deletes mixed, which it serves
 * faster than a run of untags that all wait for its one reference-store lock). Otherwise, plan order.
 */
export interface Task<R> {
  deps: number[];
  /** Tasks with the same key run one at a time. */
  key?: string;
  run(): Promise<R>;
  /** The result when a dependency did not clear: the task is not run. */
  blocked(dep: number, depResult: R): R;
  /** The result when the run stopped before the task started. */
  halted(): R;
}

export async function runGraph<R extends { clear: boolean }>(
  tasks: Task<R>[],
  concurrency: number,
  onDone: (index: number, result: R) => void,
  /** Asked before each start: once true, no task starts again, and those not started are halted. */
  stopped: () => boolean = () => false,
): Promise<R[]> {
  const results = new Array<R | undefined>(tasks.length);
  const waiting = tasks.map((t) => new Set(t.deps));
  const dependants = tasks.map(() => [] as number[]);
  waiting.forEach((deps, i) => deps.forEach((d) => dependants[d]!.push(i)));
  // Each list in plan order (the reviewer's order); `next` (made ready by a finished task) goes first.
  const next: number[] = [];
  const ready: number[] = [];
  tasks.forEach((_, i) => waiting[i]!.size === 0 && ready.push(i));
  let active = 0;
  const running = new Set<number>();
  let finished = 0;
  const busy = new Set<string>();

  return new Promise<R[]>((resolve, reject) => {
    const finish = (i: number, r: R) => {
      results[i] = r;
      finished++;
      onDone(i, r);
      for (const j of dependants[i]!) {
        waiting[j]!.delete(i);
        if (waiting[j]!.size === 0) insertSorted(next, j);
      }
    };
    /** Starts the first runnable task of `list`; false when none can start now. */
    const startFrom = (list: number[]): boolean => {
      for (let at = 0; at < list.length; at++) {
        const i = list[at]!;
        const t = tasks[i]!;
        const failedDep = t.deps.find((d) => !results[d]!.clear);
        if (failedDep !== undefined) {
          list.splice(at, 1);
          finish(i, t.blocked(failedDep, results[failedDep]!));
          return true;
        }
        if (t.key !== undefined && busy.has(t.key)) continue;
        list.splice(at, 1);
        active++;
        running.add(i);
        if (t.key !== undefined) busy.add(t.key);
        t.run().then(
          (r) => {
            active--;
            running.delete(i);
            if (t.key !== undefined) busy.delete(t.key);
            finish(i, r);
            pump();
          },
          (err: unknown) => reject(err instanceof Error ? err : new Error(String(err))),
        );
        return true;
      }
      return false;
    };
    const pump = () => {
      if (stopped()) {
        // What runs finishes; nothing else starts.
        tasks.forEach((t, i) => results[i] === undefined && !running.has(i) && finish(i, t.halted()));
        next.length = 0;
        ready.length = 0;
      } else while (active < concurrency && (startFrom(next) || startFrom(ready)));
      if (finished === tasks.length) resolve(results as R[]);
      else if (active === 0) reject(new Error("the plan's steps depend on each other in a cycle"));
    };
    pump();
  });
}

/** Keeps `list` ascending (binary search, then one splice). */
function insertSorted(list: number[], value: number): void {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid]! < value) lo = mid + 1;
    else hi = mid;
  }
  list.splice(lo, 0, value);
}
