import { createHmac, randomBytes } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hostEntryName, hostFieldMatches, hostKeyCheck, keysFor, knownHostsFiles } from '../../src/engine/known-hosts.js';

const KEY_A = Buffer.from('key-a-public-blob').toString('base64');
const KEY_B = Buffer.from('key-b-public-blob').toString('base64');
const hashed = (name: string, salt = randomBytes(20)) => `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(name).digest('base64')}`;

describe('known_hosts', () => {
  it('names a host as OpenSSH does: bare on port 22, [host]:port otherwise', () => {
    expect(hostEntryName('build-01', 22)).toBe('build-01');
    expect(hostEntryName('127.0.0.1', 2222)).toBe('[127.0.0.1]:2222');
    expect(hostEntryName('::1', 2222)).toBe('[::1]:2222');
  });

  it('matches plain, comma-separated, wildcard, negated and hashed host fields', () => {
    expect(hostFieldMatches('build-01,10.0.0.5', 'build-01')).toBe(true);
    expect(hostFieldMatches('build-01,10.0.0.5', '10.0.0.5')).toBe(true);
    expect(hostFieldMatches('build-01', 'build-010')).toBe(false);
    expect(hostFieldMatches('*.ci.example', 'runner-3.ci.example')).toBe(true);
    expect(hostFieldMatches('runner-?.ci.example', 'runner-3.ci.example')).toBe(true);
    expect(hostFieldMatches('*.ci.example,!bad.ci.example', 'bad.ci.example')).toBe(false);
    expect(hostFieldMatches('BUILD-01', 'build-01')).toBe(true);
    expect(hostFieldMatches('[127.0.0.1]:2222', '[127.0.0.1]:2222')).toBe(true);
    expect(hostFieldMatches('127.0.0.1', '[127.0.0.1]:2222')).toBe(false);
    expect(hostFieldMatches(hashed('[127.0.0.1]:2222'), '[127.0.0.1]:2222')).toBe(true);
    expect(hostFieldMatches(hashed('other'), '[127.0.0.1]:2222')).toBe(false);
    expect(hostFieldMatches('|1|broken', 'x')).toBe(false);
  });

  it('collects the keys for a host, revoked ones apart; comments, blank lines and CA lines are skipped', () => {
    const text = [
      '# comment',
      '',
      `build-01 ssh-ed25519 ${KEY_A} root@build-01`,
      `other ssh-ed25519 ${KEY_B}`,
      `@revoked build-01 ssh-rsa ${KEY_B}`,
      `@cert-authority *.example ssh-ed25519 ${KEY_B}`,
      'build-01 ssh-ed25519',
    ].join('\n');
    const keys = keysFor([text], 'build-01');
    expect([...keys.accepted]).toEqual([KEY_A]);
    expect([...keys.revoked]).toEqual([KEY_B]);
  });

  it('checks an offered key: known passes; unknown, changed and revoked are refused, saying which', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'isw-known-'));
    const file = join(dir, 'known_hosts');
    const missing = join(dir, 'nope');
    await writeFile(file, `[box]:2222 ssh-ed25519 ${KEY_A}\n@revoked [box]:2222 ssh-ed25519 ${KEY_B}\n`);
    const known = hostKeyCheck('box', 2222, [missing, file]);
    expect(known.verify(Buffer.from(KEY_A, 'base64'))).toBe(true);
    expect(known.problem).toBeNull();
    expect(known.verify(Buffer.from(KEY_B, 'base64'))).toBe(false);
    expect(known.problem).toMatch(/@revoked/);
    expect(known.verify(Buffer.from('something else'))).toBe(false);
    expect(known.problem).toMatch(/does not match the one in .*known_hosts: the server changed, or someone is in between/);
    const unknown = hostKeyCheck('elsewhere', 22, [file]);
    expect(unknown.verify(Buffer.from(KEY_A, 'base64'))).toBe(false);
    expect(unknown.problem).toMatch(/^the host key of elsewhere is not in .*known_hosts: connect once/);
  });

  it('reads ~/.ssh/known_hosts, then the system file', () => {
    expect(knownHostsFiles({ HOME: '/home/ci' })).toEqual(['/home/ci/.ssh/known_hosts', '/etc/ssh/ssh_known_hosts']);
    expect(knownHostsFiles({})).toEqual(['/etc/ssh/ssh_known_hosts']);
  });
});
