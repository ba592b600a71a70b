import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { runGraph, type Task } from '../../src/execute/graph.js';

interface R {
  clear: boolean;
  ran: boolean;
  /** blocked: the dependency the runner named. */
  blockedBy?: number;
  /** not started: the run had stopped. */
  halted?: boolean;
}

const halted = (): R => ({ clear: false, ran: false, halted: true });

/** A random DAG: edges only from a later to an earlier position of a random permutation (so no cycle). */
const arbDag = fc
  .integer({ min: 0, max: 14 })
  .chain((n) =>
    fc.record({
      order: fc.shuffledSubarray([...Array(n).keys()], { minLength: n, maxLength: n }),
      deps: fc.array(fc.uniqueArray(fc.nat(), { maxLength: 4 }), { minLength: n, maxLength: n }),
      clear: fc.array(fc.boolean(), { minLength: n, maxLength: n }),
      waits: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: n, maxLength: n }),
      concurrency: fc.integer({ min: 1, max: 5 }),
      keys: fc.array(fc.option(fc.constantFrom('a', 'b', 'c'), { nil: undefined }), { minLength: n, maxLength: n }),
    }),
  )
  .map(({ order, deps, clear, waits, concurrency, keys }) => {
    // Task order[k] may depend only on tasks order[0..k-1].
    const taskDeps = order.map(() => [] as number[]);
    order.forEach((task, k) => {
      taskDeps[task] = k === 0 ? [] : [...new Set(deps[k]!.map((d) => order[d % k]!))];
    });
    return { deps: taskDeps, clear, waits, concurrency, keys };
  });

const tick = (n: number) => new Promise<void>((r) => (n === 0 ? setImmediate(r) : setTimeout(r, n)));

describe('runGraph', () => {
  it('keeps every ordering constraint, the concurrency bound, one task per key at a time, and blocks dependants of tasks that did not clear', async () => {
    await fc.assert(
      fc.asyncProperty(arbDag, async ({ deps, clear, waits, concurrency, keys }) => {
        let seq = 0;
        let active = 0;
        let maxActive = 0;
        const running = new Map<string, number>();
        const started = new Map<number, number>();
        const ended = new Map<number, number>();
        const done: number[] = [];
        const tasks: Task<R>[] = deps.map((d, i) => ({
          deps: d,
          key: keys[i],
          async run() {
            started.set(i, ++seq);
            maxActive = Math.max(maxActive, ++active);
            const key = keys[i];
            if (key !== undefined) {
              expect(running.has(key), `task ${i} while ${running.get(key)} holds key ${key}`).toBe(false);
              running.set(key, i);
            }
            await tick(waits[i]!);
            if (key !== undefined) running.delete(key);
            active--;
            ended.set(i, ++seq);
            return { clear: clear[i]!, ran: true };
          },
          blocked(dep, depResult) {
            expect(d).toContain(dep);
            expect(depResult.clear).toBe(false);
            ended.set(i, ++seq);
            return { clear: false, ran: false, blockedBy: dep };
          },
          halted,
        }));
        const results = await runGraph(tasks, concurrency, (i) => done.push(i));

        expect(maxActive).toBeLessThanOrEqual(concurrency);
        expect([...done].sort((a, b) => a - b)).toEqual([...deps.keys()]);
        expect(results).toHaveLength(deps.length);
        // The expected fate of each task: it runs iff every dependency ran and cleared.
        const runs = (i: number): boolean => deps[i]!.every((d) => runs(d) && clear[d]!);
        deps.forEach((d, i) => {
          expect(results[i]!.ran, `task ${i}`).toBe(runs(i));
          if (results[i]!.ran) {
            // Never started before every dependency had finished.
            for (const dep of d) expect(ended.get(dep)!, `task ${i} after ${dep}`).toBeLessThan(started.get(i)!);
          } else {
            expect(started.has(i)).toBe(false);
            expect(results[i]!.clear).toBe(false);
            for (const dep of d) expect(ended.get(dep)!).toBeLessThan(ended.get(i)!);
          }
        });
      }),
      { numRuns: 150 },
    );
  });

  it('with enough work, uses the whole concurrency bound', async () => {
    let active = 0;
    let maxActive = 0;
    const tasks: Task<R>[] = Array.from({ length: 10 }, () => ({
      deps: [],
      async run() {
        maxActive = Math.max(maxActive, ++active);
        await tick(2);
        active--;
        return { clear: true, ran: true };
      },
      blocked: () => ({ clear: false, ran: false }),
      halted,
    }));
    await runGraph(tasks, 3, () => {});
    expect(maxActive).toBe(3);
  });

  it('a ready task whose key is busy lets the next ones take the free slots', async () => {
    const starts: number[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const keys = ['x', 'x', 'y', 'z', 'x'];
    const tasks: Task<R>[] = keys.map((key, i) => ({
      deps: [],
      key,
      async run() {
        starts.push(i);
        if (i === 0) await gate;
        return { clear: true, ran: true };
      },
      blocked: () => ({ clear: false, ran: false }),
      halted,
    }));
    const done = runGraph(tasks, 3, () => {});
    await tick(5);
    // Task 0 holds "x": 1 and 4 wait, 2 and 3 run meanwhile.
    expect(starts).toEqual([0, 2, 3]);
    release();
    await done;
    expect(starts).toEqual([0, 2, 3, 1, 4]);
  });

  it('finishes what it started: a task made ready by another goes next, then the rest in plan order', async () => {
    const order: number[] = [];
    const tasks: Task<R>[] = [[], [], [0], [], [], [1]].map((deps, i) => ({
      deps,
      run: () => {
        order.push(i);
        return Promise.resolve({ clear: true, ran: true });
      },
      blocked: () => ({ clear: false, ran: false }),
      halted,
    }));
    await runGraph(tasks, 1, () => {});
    // 2 right after 0, 5 right after 1, ahead of 3 and 4, which were ready all along.
    expect(order).toEqual([0, 2, 1, 5, 3, 4]);
  });

  it('an empty task list resolves at once with no results', async () => {
    const done: number[] = [];
    await expect(runGraph<R>([], 4, (i) => done.push(i))).resolves.toEqual([]);
    expect(done).toEqual([]);
  });

  it('blocking propagates down a chain, each task naming its own dependency', async () => {
    const tasks: Task<R>[] = [[], [0], [1], []].map((deps, i) => ({
      deps,
      run: () => Promise.resolve({ clear: i !== 0, ran: true }),
      blocked: (dep) => ({ clear: false, ran: false, blockedBy: dep }),
      halted,
    }));
    const results = await runGraph(tasks, 2, () => {});
    expect(results).toEqual([
      { clear: false, ran: true },
      { clear: false, ran: false, blockedBy: 0 },
      { clear: false, ran: false, blockedBy: 1 },
      { clear: true, ran: true },
    ]);
  });

  const task = (deps: number[], log: number[] = [], i = 0): Task<R> => ({
    deps,
    run: () => {
      log.push(i);
      return Promise.resolve({ clear: true, ran: true });
    },
    blocked: () => ({ clear: false, ran: false }),
    halted,
  });

  it('a cycle rejects', async () => {
    await expect(runGraph([task([1]), task([0])], 2, () => {})).rejects.toThrow(/cycle/);
  });

  it('a task depending on itself rejects', async () => {
    await expect(runGraph([task([0])], 1, () => {})).rejects.toThrow(/cycle/);
  });

  it('a cycle behind runnable tasks rejects after running what it could', async () => {
    const log: number[] = [];
    const tasks = [task([], log, 0), task([0, 3], log, 1), task([0], log, 2), task([1], log, 3)];
    await expect(runGraph(tasks, 2, () => {})).rejects.toThrow(/cycle/);
    expect(log.sort()).toEqual([0, 2]);
  });

  it('a task that throws rejects the run', async () => {
    const tasks: Task<R>[] = [
      { deps: [], run: () => Promise.reject(new Error('boom')), blocked: () => ({ clear: false, ran: false }), halted },
    ];
    await expect(runGraph(tasks, 1, () => {})).rejects.toThrow('boom');
  });

  it('a dependency listed twice still runs the task once', async () => {
    const log: number[] = [];
    const done: number[] = [];
    const results = await runGraph([task([], log, 0), task([0, 0], log, 1)], 2, (i) => done.push(i));
    expect(log).toEqual([0, 1]);
    expect(done.sort()).toEqual([0, 1]);
    expect(results).toHaveLength(2);
  });

  it('once stopped, starts nothing more: what runs finishes, the rest (and what waits on it) is halted', async () => {
    let stop = false;
    const started: number[] = [];
    const tasks: Task<R>[] = [0, 1, 2, 3, 4].map((i) => ({
      deps: i === 4 ? [3] : [],
      async run() {
        started.push(i);
        if (i === 1) stop = true; // e.g. the audit log failed while step 1 ran
        await new Promise((resolve) => setTimeout(resolve, 5));
        return { clear: true, ran: true };
      },
      blocked: () => ({ clear: false, ran: false }),
      halted,
    }));
    const done: number[] = [];
    const results = await runGraph(
      tasks,
      2,
      (i) => done.push(i),
      () => stop,
    );
    expect(started).toEqual([0, 1]);
    expect(results.map((r) => (r.ran ? 'ran' : r.halted ? 'halted' : 'blocked'))).toEqual([
      'ran',
      'ran',
      'halted',
      'halted',
      'halted',
    ]);
    expect(done.sort()).toEqual([0, 1, 2, 3, 4]);
  });
});
