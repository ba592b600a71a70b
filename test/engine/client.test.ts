import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

/**
 * The modem's ssh transport (ssh2) loads only when an ssh:// engine is used. Checked in a fresh process: this
 * one's module cache holds whatever other tests loaded.
 */
const ROOT = new URL('../..', import.meta.url).pathname;

describe('makeTransport', () => {
  it('loads ssh2 only for an ssh:// engine, tls only for a TLS one, node:http not for a local one, and then the real transport is used', async () => {
    const script = `
      import { createRequire } from 'node:module';
      import { makeTransport } from './src/engine/client.ts';
      import { targetFor } from './src/engine/host.ts';
      const cache = createRequire(import.meta.url).cache;
      const ssh2 = () => Object.keys(cache).some((f) => f.includes('/node_modules/ssh2/'));
      const out = {};
      const ping = (t) => t.call({ method: 'GET', path: '/_ping', timeoutMs: 5000 }).then(() => null, (e) => e.message);
      const loaded = (name) => process.moduleLoadList.includes('NativeModule ' + name);
      out.unix = await ping(makeTransport(targetFor('unix:///nowhere/docker.sock', {}), undefined, undefined));
      out.httpLocal = loaded('http');
      out.tcp = await ping(makeTransport(targetFor('tcp://127.0.0.1:1', {}), undefined, undefined));
      out.local = ssh2();
      out.tlsLocal = loaded('tls');
      out.tlsError = await ping(makeTransport(targetFor('tcp://127.0.0.1:1', {}, { tls: { verify: true } }), undefined, undefined));
      out.tls = loaded('tls');
      out.error = await ping(makeTransport(targetFor('ssh://nobody@127.0.0.1:1', {}), undefined, undefined));
      out.ssh = ssh2();
      console.log(JSON.stringify(out));`;
    const { stdout } = await promisify(execFile)(process.execPath, ['--no-deprecation', '--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, timeout: 60_000 });
    // The refused connection comes from ssh2's client: the real transport ran.
    expect(JSON.parse(stdout)).toEqual({
      unix: expect.stringMatching(/ENOENT/) as unknown,
      tcp: expect.stringMatching(/ECONNREFUSED 127\.0\.0\.1:1/) as unknown,
      local: false,
      httpLocal: false,
      tlsLocal: false,
      tlsError: expect.stringMatching(/ECONNREFUSED 127\.0\.0\.1:1/) as unknown,
      tls: true,
      error: expect.stringMatching(/ECONNREFUSED 127\.0\.0\.1:1/) as unknown,
      ssh: true,
    });
  });
});
