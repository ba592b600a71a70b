import { describe, expect, it } from 'vitest';
import { credentialSource, parseDockerConfig } from '../../src/registry/docker-config.js';

const b64 = (s: string): string => Buffer.from(s).toString('base64');

describe('parseDockerConfig', () => {
  it('reads auth (base64 user:password), username/password and identitytoken entries', () => {
    const config = parseDockerConfig(
      JSON.stringify({
        auths: {
          'https://index.docker.io/v1/': { auth: b64('hub:pa:ss') },
          'ghcr.io': { username: 'u', password: 'p' },
          'acr.example.io': { auth: b64('00000000-0000-0000-0000-000000000000:'), identitytoken: 'refresh' },
          'empty.io': {},
          'odd.io': 'not an object',
        },
        credHelpers: { 'gcr.io': 'gcloud', 'bad.io': 7 },
        credsStore: 'desktop',
      }),
    );
    expect(config.auths).toEqual({
      'https://index.docker.io/v1/': { kind: 'basic', username: 'hub', password: 'pa:ss' },
      'ghcr.io': { kind: 'basic', username: 'u', password: 'p' },
      'acr.example.io': { kind: 'identity', username: '00000000-0000-0000-0000-000000000000', token: 'refresh' },
      'empty.io': null,
      'odd.io': null,
    });
    expect(config.credHelpers).toEqual({ 'gcr.io': 'gcloud' });
    expect(config.credsStore).toBe('desktop');
  });

  it('refuses text that is not a JSON object without quoting it (it holds credentials)', () => {
    const secret = '{"auths": {"x": {"auth": "c2VjcmV0"}}';
    expect(() => parseDockerConfig(secret)).toThrow('config.json is not valid JSON');
    try {
      parseDockerConfig(secret);
    } catch (error) {
      expect(String(error)).not.toContain('c2VjcmV0');
    }
    expect(() => parseDockerConfig('[]')).toThrow('not a JSON object');
  });

  it('an empty object is an empty config', () => {
    expect(parseDockerConfig('{}')).toEqual({ auths: {}, credHelpers: {}, credsStore: null });
  });
});

describe('credentialSource: credHelpers[host], then credsStore, then auths', () => {
  const config = parseDockerConfig(
    JSON.stringify({
      auths: {
        'https://index.docker.io/v1/': { username: 'hub', password: 'h' },
        'http://localhost:5000/v2/': { username: 'l', password: 'p' },
        'ghcr.io': { username: 'g', password: 'p' },
      },
      credHelpers: { 'gcr.io': 'gcloud', 'ghcr.io': 'gh' },
    }),
  );

  it('uses a credential helper named for the host, asking about the address the CLI uses', () => {
    expect(credentialSource(config, 'gcr.io')).toEqual({ kind: 'helper', helper: 'gcloud', serverAddress: 'gcr.io' });
    expect(credentialSource(config, 'ghcr.io')).toEqual({ kind: 'helper', helper: 'gh', serverAddress: 'ghcr.io' });
  });

  it('uses auths by exact key, or by a key that reduces to the registry', () => {
    expect(credentialSource(config, 'docker.io')).toEqual({
      kind: 'file',
      credentials: { kind: 'basic', username: 'hub', password: 'h' },
    });
    expect(credentialSource(config, 'localhost:5000')).toEqual({
      kind: 'file',
      credentials: { kind: 'basic', username: 'l', password: 'p' },
    });
    expect(credentialSource(config, 'quay.io')).toEqual({ kind: 'none' });
  });

  it('credsStore takes every registry without a credHelpers entry, Docker Hub by its v1 address', () => {
    const store = parseDockerConfig(JSON.stringify({ credsStore: 'pass', auths: { 'quay.io': { auth: b64('a:b') } } }));
    expect(credentialSource(store, 'quay.io')).toEqual({ kind: 'helper', helper: 'pass', serverAddress: 'quay.io' });
    expect(credentialSource(store, 'docker.io')).toEqual({
      kind: 'helper',
      helper: 'pass',
      serverAddress: 'https://index.docker.io/v1/',
    });
  });
});
