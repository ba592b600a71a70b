import { describe, expect, it } from 'vitest';
import { authKey, authKeyRegistry, digestTarget } from '../../src/registry/names.js';

const D = `sha256:${'a'.repeat(64)}`;

describe('digestTarget: names as the Docker CLI reads them', () => {
  it.each([
    [`nginx@${D}`, 'docker.io', 'registry-1.docker.io', 'library/nginx'],
    [`user/app@${D}`, 'docker.io', 'registry-1.docker.io', 'user/app'],
    [`docker.io/library/nginx@${D}`, 'docker.io', 'registry-1.docker.io', 'library/nginx'],
    [`docker.io/nginx@${D}`, 'docker.io', 'registry-1.docker.io', 'library/nginx'],
    [`index.docker.io/user/app@${D}`, 'docker.io', 'registry-1.docker.io', 'user/app'],
    [`localhost:5000/app@${D}`, 'localhost:5000', 'localhost:5000', 'app'],
    [`localhost/app@${D}`, 'localhost', 'localhost', 'app'],
    [`127.0.0.1:5000/app@${D}`, '127.0.0.1:5000', '127.0.0.1:5000', 'app'],
    [`registry.acme.io/ci/app@${D}`, 'registry.acme.io', 'registry.acme.io', 'ci/app'],
    [`ghcr.io/o/a/b@${D}`, 'ghcr.io', 'ghcr.io', 'o/a/b'],
    [`registry.acme.io/ci/app:1.2@${D}`, 'registry.acme.io', 'registry.acme.io', 'ci/app'],
    [`localhost:5000/app:1@${D}`, 'localhost:5000', 'localhost:5000', 'app'],
  ])('%s → %s, %s, %s', (ref, registry, host, name) => {
    expect(digestTarget(ref)).toEqual({ registry, host, name, digest: D });
  });

  it.each(['nginx:1.25', 'nginx', `nginx@sha256:short`, `Upper/app@${D}`, `a//b@${D}`, `<none>@<none>`])(
    '%s is not a digest reference it can ask about',
    (ref) => {
      expect(digestTarget(ref)).toHaveProperty('error');
    },
  );
});

describe('config.json keys', () => {
  it('Docker Hub is keyed by https://index.docker.io/v1/, others by host[:port]', () => {
    expect(authKey('docker.io')).toBe('https://index.docker.io/v1/');
    expect(authKey('localhost:5000')).toBe('localhost:5000');
  });

  it.each([
    ['https://index.docker.io/v1/', 'docker.io'],
    ['index.docker.io', 'docker.io'],
    ['registry-1.docker.io', 'docker.io'],
    ['http://localhost:5000/v2/', 'localhost:5000'],
    ['https://ghcr.io', 'ghcr.io'],
    ['ghcr.io', 'ghcr.io'],
  ])('%s names registry %s', (key, registry) => {
    expect(authKeyRegistry(key)).toBe(registry);
  });
});
