/** One bounded HTTP call through dockerode's modem, so we control paths, encoding, status codes and time. */
import type DockerModem from 'docker-modem';

export interface Call {
  method: 'GET' | 'POST' | 'DELETE';
  /** Path without the version prefix and without a query; the caller encodes path parameters. */
  path: string;
  query?: Record<string, string | number | boolean | object>;
  /** Status codes that count as success (default 200, 201, 204). */
  ok?: number[];
  timeoutMs: number;
}

/** Resolves with the parsed JSON body (a Buffer when it is not one JSON value), rejects with the modem's error. */
export function call(modem: DockerModem, c: Call): Promise<unknown> {
  const statusCodes: Record<number, boolean> = {};
  for (const code of c.ok ?? [200, 201, 204]) statusCodes[code] = true;
  const hasQuery = c.query !== undefined && Object.keys(c.query).length > 0;
  const signal = AbortSignal.timeout(c.timeoutMs);
  return new Promise((resolve, reject) => {
    // The modem appends the query only to a path holding '?', and with no options it cuts the path's last char.
    modem.dial(
      {
        path: hasQuery ? `${c.path}?` : c.path,
        method: c.method,
        options: hasQuery ? { ...c.query } : undefined,
        statusCodes,
        abortSignal: signal,
      },
      (error, result) => {
        if (!error) resolve(result);
        else if (signal.aborted && (error as { statusCode?: unknown }).statusCode === undefined) {
          reject(new Error(`${c.method} ${c.path} timed out after ${c.timeoutMs} ms`, { cause: error }));
        } else reject(error);
      },
    );
  });
}

/** A body as text: the modem parses one JSON value but hands back newline-delimited JSON as a Buffer. */
export function bodyText(body: unknown): string {
  if (Buffer.isBuffer(body)) return body.toString('utf8');
  if (typeof body === 'string') return body;
  if (body === null || body === undefined) return '';
  return JSON.stringify(body);
}
