import { describe, expect, it } from 'vitest';
import { parseChallenges } from '../../src/registry/challenge.js';

describe('parseChallenges', () => {
  it('reads a Bearer challenge with quoted parameters', () => {
    const header =
      'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull"';
    expect(parseChallenges(header)).toEqual([
      {
        scheme: 'bearer',
        params: {
          realm: 'https://auth.docker.io/token',
          service: 'registry.docker.io',
          scope: 'repository:library/nginx:pull',
        },
      },
    ]);
  });

  it('reads Basic, unquoted values, escapes, spaces around "=" and case-insensitive names', () => {
    expect(parseChallenges('Basic realm="Registry \\"A\\""')).toEqual([
      { scheme: 'basic', params: { realm: 'Registry "A"' } },
    ]);
    expect(parseChallenges('BEARER Realm = "r", service=svc')).toEqual([
      { scheme: 'bearer', params: { realm: 'r', service: 'svc' } },
    ]);
  });

  it('splits several challenges, joined in one header or given as several', () => {
    const expected = [
      { scheme: 'basic', params: { realm: 'b' } },
      { scheme: 'bearer', params: { realm: 'https://t/token', service: 's' } },
    ];
    expect(parseChallenges('Basic realm="b", Bearer realm="https://t/token",service="s"')).toEqual(expected);
    expect(parseChallenges(['Basic realm="b"', 'Bearer realm="https://t/token",service="s"'])).toEqual(expected);
  });

  it('gives nothing for no header or garbage', () => {
    expect(parseChallenges(undefined)).toEqual([]);
    expect(parseChallenges('')).toEqual([]);
    expect(parseChallenges('"quoted"')).toEqual([]);
  });
});
