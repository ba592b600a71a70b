/** Reads a JSON-lines progress stream (load, import, build, push, pull) and fails on its in-band errors. */

export type ProgressLine = Record<string, unknown>;

export function drainProgress(stream: NodeJS.ReadableStream, what: string): Promise<ProgressLine[]> {
  return new Promise((resolve, reject) => {
    let text = '';
    stream.on('data', (chunk: Buffer | string) => (text += chunk.toString()));
    stream.on('error', reject);
    stream.on('end', () => {
      const lines: ProgressLine[] = [];
      for (const raw of text.split(/\r?\n/)) {
        if (raw.trim() === '') continue;
        try {
          lines.push(JSON.parse(raw) as ProgressLine);
        } catch {
          lines.push({ stream: raw });
        }
      }
      // The engine answers 200 and then reports failure inside the stream.
      const failed = lines.find((line) => line.error !== undefined || line.errorDetail !== undefined);
      if (failed) reject(new Error(`${what} failed: ${JSON.stringify(failed.error ?? failed.errorDetail)}`));
      else resolve(lines);
    });
  });
}
