import { describe, expect, it } from 'vitest';
import { failureReason, isInsecure } from '../../src/registry/http.js';

describe('isInsecure', () => {
  it.each([
    ['localhost:5000', ['localhost:5000'], true],
    ['localhost:5000', ['localhost'], false],
    ['registry.acme.io', ['registry.acme.io'], true],
    ['127.0.0.1:5000', ['127.0.0.0/8'], true],
    ['10.1.2.3:443', ['10.0.0.0/16'], false],
    ['10.0.2.3', ['10.0.0.0/16'], true],
    ['[::1]:5000', ['::1/128'], true],
    ['registry.acme.io', ['127.0.0.0/8'], false],
    ['ghcr.io', [], false],
  ])('%s with %j → %s', (host, list, expected) => {
    expect(isInsecure(host, list)).toBe(expected);
  });
});

describe('failureReason', () => {
  it('names the code, and where a private CA goes for a certificate error', () => {
    const tls = Object.assign(new Error('self-signed certificate'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
    expect(failureReason(tls, '/etc/docker/certs.d/r:5000/ca.crt')).toBe(
      'certificate not trusted (DEPTH_ZERO_SELF_SIGNED_CERT: self-signed certificate); a private CA goes in /etc/docker/certs.d/r:5000/ca.crt',
    );
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    expect(failureReason(refused, 'x')).toBe('connect ECONNREFUSED 127.0.0.1:1');
    const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    expect(failureReason(reset, 'x')).toBe('ECONNRESET: socket hang up');
  });
});
