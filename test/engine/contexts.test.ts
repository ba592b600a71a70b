import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  contextId,
  currentContextName,
  dockerConfigDir,
  listContexts,
  readContext,
  requireContext,
} from '../../src/engine/contexts.js';
import { UsageError } from '../../src/errors.js';

interface ContextSpec {
  host?: string;
  skipTlsVerify?: boolean;
  tls?: Partial<Record<'ca' | 'cert' | 'key', string>>;
  /** Raw meta.json text instead of the generated one. */
  raw?: string;
}

/** Writes a context the way `docker context create` stores it. */
function writeContext(config: string, name: string, spec: ContextSpec): void {
  const id = contextId(name);
  const meta = join(config, 'contexts', 'meta', id);
  mkdirSync(meta, { recursive: true });
  const endpoint =
    spec.host === undefined ? {} : { docker: { Host: spec.host, SkipTLSVerify: spec.skipTlsVerify ?? false } };
  writeFileSync(
    join(meta, 'meta.json'),
    spec.raw ?? JSON.stringify({ Name: name, Metadata: { Description: '' }, Endpoints: endpoint }),
  );
  if (spec.tls) {
    const dir = join(config, 'contexts', 'tls', id, 'docker');
    mkdirSync(dir, { recursive: true });
    for (const [kind, text] of Object.entries(spec.tls)) writeFileSync(join(dir, `${kind}.pem`), text);
  }
}

describe('Docker CLI contexts', () => {
  let config: string;
  let env: NodeJS.ProcessEnv;

  beforeEach(() => {
    config = mkdtempSync(join(tmpdir(), 'isw-ctx-'));
    env = { DOCKER_CONFIG: config };
  });
  afterEach(() => rmSync(config, { recursive: true, force: true }));

  it('finds the config folder in DOCKER_CONFIG, else HOME/.docker', () => {
    expect(dockerConfigDir({ DOCKER_CONFIG: '/etc/dc', HOME: '/home/u' })).toBe('/etc/dc');
    expect(dockerConfigDir({ HOME: '/home/u' })).toBe('/home/u/.docker');
    expect(dockerConfigDir({ DOCKER_CONFIG: '  ', HOME: '/home/u' })).toBe('/home/u/.docker');
  });

  it('stores a context under the sha256 of its name, as the docker CLI does', () => {
    // `docker context create test` makes contexts/meta/9f86d0…/meta.json
    expect(contextId('test')).toBe('9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08');
  });

  it('reads a context: its docker endpoint, SkipTLSVerify and whichever TLS files exist', () => {
    writeContext(config, 'prod', { host: 'tcp://10.1.2.3:2376', tls: { ca: 'CA', cert: 'CERT', key: 'KEY' } });
    writeContext(config, 'lab', { host: 'tcp://lab:2376', skipTlsVerify: true, tls: { ca: 'CA' } });
    writeContext(config, 'local', { host: 'unix:///run/user/1000/docker.sock' });
    const tlsDir = (name: string) => join(config, 'contexts', 'tls', contextId(name), 'docker');
    expect(readContext('prod', env)).toEqual({
      name: 'prod',
      host: 'tcp://10.1.2.3:2376',
      skipTlsVerify: false,
      tls: {
        ca: join(tlsDir('prod'), 'ca.pem'),
        cert: join(tlsDir('prod'), 'cert.pem'),
        key: join(tlsDir('prod'), 'key.pem'),
      },
      metaFile: join(config, 'contexts', 'meta', contextId('prod'), 'meta.json'),
    });
    expect(readContext('lab', env)).toMatchObject({
      skipTlsVerify: true,
      tls: { ca: join(tlsDir('lab'), 'ca.pem'), cert: null, key: null },
    });
    expect(readContext('local', env)).toMatchObject({
      host: 'unix:///run/user/1000/docker.sock',
      tls: { ca: null, cert: null, key: null },
    });
    expect(readContext('nope', env)).toBeNull();
  });

  it('lists the stored contexts by name, sorted, skipping damaged ones', () => {
    expect(listContexts(env)).toEqual([]);
    writeContext(config, 'zeta', { host: 'tcp://z:2375' });
    writeContext(config, 'alpha', { host: 'tcp://a:2375' });
    writeContext(config, 'broken', { raw: '{not json' });
    expect(listContexts(env)).toEqual(['alpha', 'zeta']);
  });

  it('an unknown context is a usage error (exit 2) that lists the known ones, default first', () => {
    writeContext(config, 'b', { host: 'tcp://b:2375' });
    writeContext(config, 'a', { host: 'tcp://a:2375' });
    let error: unknown;
    try {
      requireContext('prdo', env, '--context');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UsageError);
    expect((error as UsageError).exitCode).toBe(2);
    expect((error as UsageError).message).toBe(
      `--context "prdo": no such Docker context in ${join(config, 'contexts')} (known: default, a, b)`,
    );
    expect(requireContext('a', env, '--context').host).toBe('tcp://a:2375');
  });

  it('a context without a docker endpoint, or with a damaged meta.json, is a usage error naming the file', () => {
    writeContext(config, 'k8s', {});
    writeContext(config, 'broken', { raw: '{not json' });
    expect(() => readContext('k8s', env)).toThrow(
      /context "k8s" has no docker endpoint \(no Endpoints\.docker\.Host in .*meta\.json\)/,
    );
    expect(() => readContext('broken', env)).toThrow(UsageError);
    expect(() => readContext('broken', env)).toThrow(/meta\.json: not valid JSON/);
  });

  it('the current context: DOCKER_CONTEXT, else currentContext in config.json, else none', () => {
    expect(currentContextName(env)).toBeNull();
    writeFileSync(join(config, 'config.json'), JSON.stringify({ auths: {} }));
    expect(currentContextName(env)).toBeNull();
    writeFileSync(join(config, 'config.json'), JSON.stringify({ auths: {}, currentContext: 'prod' }));
    expect(currentContextName(env)).toEqual({ name: 'prod', via: `currentContext (${join(config, 'config.json')})` });
    expect(currentContextName({ ...env, DOCKER_CONTEXT: 'lab' })).toEqual({ name: 'lab', via: 'DOCKER_CONTEXT' });
    writeFileSync(join(config, 'config.json'), '{"currentContext": ');
    expect(() => currentContextName(env)).toThrow(/config\.json: not valid JSON/);
  });
});
