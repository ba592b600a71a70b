/**
 * The OpenSSH known_hosts check for ssh:// engines. The docker CLI gets it from the ssh binary; the modem's ssh
 * transport (ssh2) checks nothing by itself, so without this any server answering on the address would be
 * trusted with the engine. Reads ~/.ssh/known_hosts and /etc/ssh/ssh_known_hosts: plain and hashed (|1|…)
 * names, [host]:port, wildcards, negations and @revoked keys; @cert-authority lines are not supported.
 */
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface HostKeyCheck {
  /** Why the last key offered was refused, for the error message; null when none was. */
  problem: string | null;
  verify(key: Buffer): boolean;
}

/** The known_hosts files OpenSSH reads by default, for this environment. */
export function knownHostsFiles(env: NodeJS.ProcessEnv): string[] {
  const home = env.HOME;
  return [...(home ? [join(home, '.ssh', 'known_hosts')] : []), '/etc/ssh/ssh_known_hosts'];
}

/** How known_hosts names a host: the bare name on port 22, else [name]:port. */
export function hostEntryName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

function globMatch(pattern: string, name: string): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 'i');
  return re.test(name);
}

/** Whether one host field (comma-separated patterns, or one hashed name) names `name`. */
export function hostFieldMatches(field: string, name: string): boolean {
  if (field.startsWith('|1|')) {
    const [, , salt, hash] = field.split('|');
    if (!salt || !hash) return false;
    return createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64') === hash;
  }
  let matched = false;
  for (const pattern of field.split(',')) {
    if (pattern.startsWith('!')) {
      if (globMatch(pattern.slice(1), name)) return false;
    } else if (globMatch(pattern, name)) matched = true;
  }
  return matched;
}

export interface KnownKeys {
  /** Base64 public key blobs known for the host. */
  accepted: Set<string>;
  revoked: Set<string>;
}

/** The keys the known_hosts texts hold for `name`. */
export function keysFor(texts: string[], name: string): KnownKeys {
  const accepted = new Set<string>();
  const revoked = new Set<string>();
  for (const text of texts) {
    for (const raw of text.split('\n')) {
      const line = raw.trim();
      if (line === '' || line.startsWith('#')) continue;
      const fields = line.split(/\s+/);
      const marker = fields[0]!.startsWith('@') ? fields.shift()! : null;
      const [hosts, , key] = fields;
      if (!hosts || !key || marker === '@cert-authority' || !hostFieldMatches(hosts, name)) continue;
      (marker === '@revoked' ? revoked : accepted).add(key);
    }
  }
  return { accepted, revoked };
}

function readAll(files: string[]): string[] {
  return files.flatMap((f) => {
    try {
      return [readFileSync(f, 'utf8')];
    } catch {
      return [];
    }
  });
}

/** A check of the key the server offers against the known_hosts files, read when the server answers. */
export function hostKeyCheck(host: string, port: number, files: string[]): HostKeyCheck {
  const name = hostEntryName(host, port);
  const where = files.join(' or ');
  const check: HostKeyCheck = {
    problem: null,
    verify(key: Buffer): boolean {
      const offered = key.toString('base64');
      const { accepted, revoked } = keysFor(readAll(files), name);
      if (revoked.has(offered)) check.problem = `the host key of ${name} is marked @revoked in ${where}`;
      else if (accepted.has(offered)) return true;
      else if (accepted.size > 0) check.problem = `the host key of ${name} does not match the one in ${where}: the server changed, or someone is in between`;
      else check.problem = `the host key of ${name} is not in ${where}: connect once with \`ssh -p ${port} HOST\` to check and accept it, or add it with ssh-keyscan`;
      return false;
    },
  };
  return check;
}
