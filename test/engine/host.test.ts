import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { contextId } from '../../src/engine/contexts.js';
import {
  checkTlsMaterial,
  connectionWarnings,
  isLoopback,
  targetFor,
  tlsFailure,
  type EngineTarget,
} from '../../src/engine/host.js';
import { EngineUnavailable, InputError, UsageError } from '../../src/errors.js';

/** Writes a context the way `docker context create` stores it. */
function writeContext(
  config: string,
  name: string,
  host: string,
  opts: { skipTlsVerify?: boolean; tls?: Partial<Record<'ca' | 'cert' | 'key', string>> } = {},
): string {
  const id = contextId(name);
  mkdirSync(join(config, 'contexts', 'meta', id), { recursive: true });
  const meta = {
    Name: name,
    Metadata: {},
    Endpoints: { docker: { Host: host, SkipTLSVerify: opts.skipTlsVerify ?? false } },
  };
  writeFileSync(join(config, 'contexts', 'meta', id, 'meta.json'), JSON.stringify(meta));
  const tlsDir = join(config, 'contexts', 'tls', id, 'docker');
  if (opts.tls) {
    mkdirSync(tlsDir, { recursive: true });
    for (const [kind, text] of Object.entries(opts.tls)) writeFileSync(join(tlsDir, `${kind}.pem`), text);
  }
  return tlsDir;
}

/** A reader that answers with the path itself, so tests see which file each option came from. */
const files = (p: string): Buffer => Buffer.from(p);
const only =
  (...present: string[]) =>
  (p: string): Buffer => {
    if (present.includes(p)) return Buffer.from(p);
    throw Object.assign(new Error(`ENOENT: no such file or directory, open '${p}'`), { code: 'ENOENT' });
  };

describe('targetFor: where the engine is', () => {
  let config: string;
  let env: NodeJS.ProcessEnv;

  beforeEach(() => {
    config = mkdtempSync(join(tmpdir(), 'isw-host-'));
    env = { DOCKER_CONFIG: config };
  });
  afterEach(() => rmSync(config, { recursive: true, force: true }));

  it('--host, then --context, then DOCKER_HOST, then DOCKER_CONTEXT, then currentContext, then the local socket', () => {
    writeContext(config, 'ctx-flag', 'tcp://flag.example:2375');
    writeContext(config, 'ctx-env', 'unix:///run/env.sock');
    writeContext(config, 'ctx-file', 'unix:///run/file.sock');
    writeFileSync(join(config, 'config.json'), JSON.stringify({ currentContext: 'ctx-file' }));
    const all = { ...env, DOCKER_HOST: 'unix:///run/dh.sock', DOCKER_CONTEXT: 'ctx-env' };
    expect(targetFor('unix:///run/explicit.sock', all, { context: undefined })).toMatchObject({
      host: 'unix:///run/explicit.sock',
      source: '--host',
    });
    expect(targetFor(undefined, all, { context: 'ctx-flag' })).toMatchObject({
      host: 'tcp://flag.example:2375',
      source: 'context "ctx-flag"',
      context: 'ctx-flag',
    });
    expect(targetFor(undefined, all)).toMatchObject({ host: 'unix:///run/dh.sock', source: 'DOCKER_HOST' });
    const { DOCKER_HOST: _, ...noHost } = all;
    expect(targetFor(undefined, noHost)).toMatchObject({
      host: 'unix:///run/env.sock',
      source: 'context "ctx-env" (DOCKER_CONTEXT)',
    });
    expect(targetFor(undefined, env)).toMatchObject({
      host: 'unix:///run/file.sock',
      source: 'context "ctx-file" (currentContext)',
      options: { socketPath: '/run/file.sock' },
    });
    rmSync(join(config, 'config.json'));
    expect(targetFor(undefined, env)).toMatchObject({ host: 'unix:///var/run/docker.sock', source: 'default' });
  });

  it('"default" is the usual resolution: DOCKER_HOST or the local socket, whatever the current context', () => {
    writeContext(config, 'other', 'tcp://other:2375');
    writeFileSync(join(config, 'config.json'), JSON.stringify({ currentContext: 'other' }));
    expect(targetFor(undefined, { ...env, DOCKER_CONTEXT: 'other' }, { context: 'default' })).toMatchObject({
      host: 'unix:///var/run/docker.sock',
      source: 'default',
    });
    expect(targetFor(undefined, { ...env, DOCKER_HOST: 'unix:///d.sock' }, { context: 'default' }).host).toBe(
      'unix:///d.sock',
    );
    expect(targetFor(undefined, { ...env, DOCKER_CONTEXT: 'default' }).source).toBe('default');
    writeFileSync(join(config, 'config.json'), JSON.stringify({ currentContext: 'default' }));
    expect(targetFor(undefined, env).source).toBe('default');
  });

  it('an unknown context is a usage error listing the known ones, from --context, DOCKER_CONTEXT or config.json', () => {
    writeContext(config, 'prod', 'tcp://p:2376');
    expect(() => targetFor(undefined, env, { context: 'prdo' })).toThrow(
      /^--context "prdo": no such Docker context .*\(known: default, prod\)$/,
    );
    expect(() => targetFor(undefined, { ...env, DOCKER_CONTEXT: 'gone' })).toThrow(UsageError);
    writeFileSync(join(config, 'config.json'), JSON.stringify({ currentContext: 'gone' }));
    expect(() => targetFor(undefined, env)).toThrow(/currentContext \(.*config\.json\) "gone": no such Docker context/);
    // DOCKER_HOST wins, so a stale currentContext does not matter then (as in the docker CLI).
    expect(targetFor(undefined, { ...env, DOCKER_HOST: 'unix:///d.sock' }).host).toBe('unix:///d.sock');
  });

  it('--host and --context together for one engine is a usage error', () => {
    writeContext(config, 'prod', 'tcp://p:2376');
    expect(() => targetFor('unix:///x.sock', env, { context: 'prod' })).toThrow(UsageError);
  });

  it('never lets dockerode fill connection or TLS fields from the process environment', () => {
    const t = targetFor('tcp://10.0.0.1', env, {}, only());
    expect(t.options).toMatchObject({ host: '10.0.0.1', port: '2375', protocol: 'http', socketPath: undefined });
    for (const key of ['ca', 'cert', 'key', 'socketPath'] as const) expect(Object.keys(t.options)).toContain(key);
    expect(t.tls).toBeUndefined();
  });
});

describe('targetFor: TLS for tcp://', () => {
  let config: string;
  beforeEach(() => {
    config = mkdtempSync(join(tmpdir(), 'isw-tls-'));
  });
  afterEach(() => rmSync(config, { recursive: true, force: true }));

  it('--tls-verify with --tls-ca/--tls-cert/--tls-key: https, port 2376 by default, those files', () => {
    const t = targetFor(
      'tcp://h',
      { DOCKER_CONFIG: config },
      { tls: { verify: true, ca: '/f/ca', cert: '/f/cert', key: '/f/key' } },
      files,
    );
    expect(t.host).toBe('tcp://h:2376');
    expect(t.options).toMatchObject({
      protocol: 'https',
      port: '2376',
      ca: Buffer.from('/f/ca'),
      cert: Buffer.from('/f/cert'),
      key: Buffer.from('/f/key'),
    });
    expect(t.tls).toEqual({ verify: true, ca: '/f/ca', cert: '/f/cert', key: '/f/key', origin: '--tls-verify' });
  });

  it('flags win over DOCKER_TLS_VERIFY/DOCKER_CERT_PATH file by file; the rest comes from DOCKER_CERT_PATH', () => {
    const env = { DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: '/certs', DOCKER_CONFIG: config };
    const t = targetFor('tcp://h:3000', env, { tls: { ca: '/mine/ca.pem' } }, files);
    expect(t.options).toMatchObject({
      protocol: 'https',
      port: '3000',
      ca: Buffer.from('/mine/ca.pem'),
      cert: Buffer.from('/certs/cert.pem'),
      key: Buffer.from('/certs/key.pem'),
    });
    expect(t.tls).toMatchObject({ ca: '/mine/ca.pem', cert: '/certs/cert.pem', key: '/certs/key.pem' });
  });

  it('--tls-verify turns TLS on even with DOCKER_TLS_VERIFY=0; any --tls-* file flag does too', () => {
    expect(
      targetFor('tcp://h', { DOCKER_TLS_VERIFY: '0', DOCKER_CONFIG: config }, { tls: { verify: true } }, only()).options
        .protocol,
    ).toBe('https');
    const caOnly = targetFor('tcp://h', { DOCKER_CONFIG: config }, { tls: { ca: '/ca.pem' } }, only('/ca.pem'));
    expect(caOnly.options).toMatchObject({
      protocol: 'https',
      ca: Buffer.from('/ca.pem'),
      cert: undefined,
      key: undefined,
    });
    expect(caOnly.tls).toMatchObject({ verify: true, cert: null, key: null });
  });

  it('DOCKER_TLS_VERIFY without DOCKER_CERT_PATH uses the files of $DOCKER_CONFIG that exist, else the system CAs', () => {
    const env = { DOCKER_TLS_VERIFY: '1', DOCKER_CONFIG: config };
    const t = targetFor('tcp://h', env, {}, only(join(config, 'ca.pem')));
    expect(t.tls).toEqual({
      verify: true,
      ca: join(config, 'ca.pem'),
      cert: null,
      key: null,
      origin: 'DOCKER_TLS_VERIFY',
    });
    expect(targetFor('tcp://h', env, {}, only()).tls).toMatchObject({ ca: null, cert: null, key: null });
  });

  it('a file named by a flag must be there (exit 2); one DOCKER_CERT_PATH names must be there (exit 1)', () => {
    let error: unknown;
    try {
      targetFor('tcp://h', { DOCKER_CONFIG: config }, { tls: { verify: true, ca: '/nope/ca.pem' } }, only());
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InputError);
    expect((error as InputError).message).toBe('--tls-ca /nope/ca.pem: cannot read it (no such file)');
    expect((error as InputError).exitCode).toBe(2);
    expect(() => targetFor('tcp://h', { DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: '/nope' }, {}, only())).toThrow(
      EngineUnavailable,
    );
    expect(() => targetFor('tcp://h', { DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: '/nope' }, {}, only())).toThrow(
      /\/nope\/ca\.pem cannot be read \(no such file\)/,
    );
  });

  it('a client certificate without its key (or the reverse) is refused', () => {
    expect(() => targetFor('tcp://h', { DOCKER_CONFIG: config }, { tls: { cert: '/c.pem' } }, only('/c.pem'))).toThrow(
      /client certificate \(\/c\.pem\) without its key: give --tls-cert and --tls-key together/,
    );
    expect(() => targetFor('tcp://h', { DOCKER_CONFIG: config }, { tls: { key: '/k.pem' } }, only('/k.pem'))).toThrow(
      InputError,
    );
    // The default folder's key.pem completes a --tls-cert, as DOCKER_CERT_PATH's would.
    expect(
      targetFor(
        'tcp://h',
        { DOCKER_CONFIG: config },
        { tls: { cert: '/c.pem' } },
        only('/c.pem', join(config, 'key.pem')),
      ).tls,
    ).toMatchObject({ cert: '/c.pem', key: join(config, 'key.pem') });
  });

  it('TLS flags do nothing to unix:// and ssh:// engines', () => {
    const flags = { tls: { verify: true, ca: '/ca.pem' } };
    expect(targetFor('unix:///x.sock', {}, flags, files).tls).toBeUndefined();
    expect(targetFor('ssh://me@box', {}, flags, files).options.protocol).toBe('ssh');
  });

  it('a context brings its own TLS files and ignores DOCKER_TLS_VERIFY/DOCKER_CERT_PATH; flags still win', () => {
    const tlsDir = writeContext(config, 'prod', 'tcp://10.1.1.1:2376', { tls: { ca: 'CA', cert: 'CERT', key: 'KEY' } });
    writeContext(config, 'plain', 'tcp://127.0.0.1:2375');
    const env = { DOCKER_CONFIG: config, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: '/nope' };
    const t = targetFor(undefined, env, { context: 'prod' });
    expect(t.options).toMatchObject({
      protocol: 'https',
      host: '10.1.1.1',
      port: '2376',
      ca: Buffer.from('CA'),
      cert: Buffer.from('CERT'),
      key: Buffer.from('KEY'),
    });
    expect(t.tls).toEqual({
      verify: true,
      ca: join(tlsDir, 'ca.pem'),
      cert: join(tlsDir, 'cert.pem'),
      key: join(tlsDir, 'key.pem'),
      origin: 'context "prod"',
    });
    expect(targetFor(undefined, env, { context: 'plain' }).options.protocol).toBe('http');
    const flagged = targetFor(undefined, env, { context: 'prod', tls: { ca: '/other-ca.pem' } }, files);
    expect(flagged.tls).toMatchObject({ ca: '/other-ca.pem', cert: join(tlsDir, 'cert.pem') });
  });

  it('a context with SkipTLSVerify uses TLS without verifying (and says so), unless --tls-verify', () => {
    writeContext(config, 'lab', 'tcp://lab.example:2376', { skipTlsVerify: true });
    const env = { DOCKER_CONFIG: config };
    const t = targetFor(undefined, env, { context: 'lab' });
    expect(t.options.protocol).toBe('https');
    expect(t.tls).toMatchObject({ verify: false, ca: null });
    expect(connectionWarnings(t)).toEqual([
      'tcp://lab.example:2376: the engine\'s certificate is not verified (context "lab" sets SkipTLSVerify)',
    ]);
    expect(targetFor(undefined, env, { context: 'lab', tls: { verify: true } }, only()).tls?.verify).toBe(true);
  });
});

describe('warnings and TLS checks before connecting', () => {
  it.each([
    ['127.0.0.1', true],
    ['127.8.9.10', true],
    ['localhost', true],
    ['LOCALHOST', true],
    ['[::1]', true],
    ['::1', true],
    ['10.0.0.1', false],
    ['192.168.1.5', false],
    ['[fe80::1]', false],
    ['docker.example.com', false],
    ['128.0.0.1', false],
  ])('isLoopback(%s) is %s', (host, loopback) => {
    expect(isLoopback(host)).toBe(loopback);
  });

  it('plain tcp:// off this machine gets one warning line; loopback, TLS, unix:// and ssh:// none', () => {
    const warn = connectionWarnings(targetFor('tcp://10.0.0.7:2375', {}, {}, only()));
    expect(warn).toHaveLength(1);
    expect(warn[0]).toMatch(/^tcp:\/\/10\.0\.0\.7:2375: traffic to the engine is not encrypted/);
    expect(warn[0]).not.toContain('\n');
    for (const host of [
      'tcp://127.0.0.1:2375',
      'tcp://localhost:2375',
      'tcp://[::1]:2375',
      'unix:///x.sock',
      'ssh://me@far',
    ]) {
      expect(connectionWarnings(targetFor(host, {}, {}, only())), host).toEqual([]);
    }
    expect(connectionWarnings(targetFor('tcp://10.0.0.7', {}, { tls: { ca: '/ca' } }, files))).toEqual([]);
  });

  it('checkTlsMaterial refuses files that are not PEM, naming them', () => {
    const t = targetFor('tcp://h', {}, { tls: { ca: '/x/ca.pem', cert: '/x/cert.pem', key: '/x/key.pem' } }, files);
    expect(() => checkTlsMaterial(t)).toThrow(InputError);
    expect(() => checkTlsMaterial(t)).toThrow(/^TLS: cannot use \/x\/ca\.pem, \/x\/cert\.pem, \/x\/key\.pem: /);
    expect(() => checkTlsMaterial(targetFor('tcp://h', {}, {}, only()))).not.toThrow();
  });
});

describe('tlsFailure: one clear line for a TLS problem', () => {
  const tcp = (tls: { ca?: string; cert?: string; key?: string } | null): EngineTarget =>
    targetFor(
      'tcp://127.0.0.1:2376',
      {},
      tls ? { tls: { verify: true, ...tls } } : {},
      only(...Object.values(tls ?? {})),
    );
  /** As connectEngine reports a transport failure: the raw error as the cause. */
  const wrapped = (raw: object) =>
    new EngineUnavailable('cannot reach the container engine at …', {
      cause: Object.assign(new Error(String((raw as { message?: string }).message ?? 'x')), raw),
    });

  it('a certificate the CA does not vouch for names the CA file (or the system CAs)', () => {
    const err = wrapped({ code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', message: 'unable to verify the first certificate' });
    expect(tlsFailure(tcp({ ca: '/etc/ca.pem', cert: '/c', key: '/k' }), err)).toBe(
      "TLS: the engine's certificate is not signed by the CA in /etc/ca.pem (tcp://127.0.0.1:2376: unable to verify the first certificate)",
    );
    expect(
      tlsFailure(
        tcp({}),
        wrapped({ code: 'SELF_SIGNED_CERT_IN_CHAIN', message: 'self-signed certificate in certificate chain' }),
      ),
    ).toMatch(
      /^TLS: the engine's certificate is not signed by a CA this system trusts; name the engine's CA with --tls-ca FILE/,
    );
  });

  it('a refused or missing client certificate', () => {
    const alert = {
      code: 'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE',
      message:
        '80ECE451EB7F0000:error:0A000412:SSL routines:ssl3_read_bytes:sslv3 alert bad certificate:../deps/openssl/openssl/ssl/record/rec_layer_s3.c:1601:SSL alert number 42\n',
    };
    expect(tlsFailure(tcp({ ca: '/ca' }), wrapped(alert))).toBe(
      'TLS: tcp://127.0.0.1:2376 requires a client certificate (sslv3 alert bad certificate): give --tls-cert FILE and --tls-key FILE (or cert.pem and key.pem in DOCKER_CERT_PATH)',
    );
    expect(tlsFailure(tcp({ ca: '/ca', cert: '/me.pem', key: '/me-key.pem' }), wrapped(alert))).toMatch(
      /^TLS: tcp:\/\/127\.0\.0\.1:2376 refused the client certificate \/me\.pem \(sslv3 alert bad certificate\)/,
    );
    expect(
      tlsFailure(tcp({ ca: '/ca' }), wrapped({ code: 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', message: 'x' })),
    ).toMatch(/requires a client certificate/);
  });

  it('TLS spoken to a plain engine, and a TLS engine reached without TLS', () => {
    const eproto = {
      code: 'EPROTO',
      message:
        'write EPROTO 803C:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:../ssl3_record.c:350:\n',
    };
    expect(tlsFailure(tcp({ ca: '/ca' }), wrapped(eproto))).toBe(
      "TLS: tcp://127.0.0.1:2376 does not speak TLS (--tls-verify asked for it): is this the engine's TLS port?",
    );
    // dockerd's answer to plain HTTP on its TLS port, as connectEngine wraps it (an HTTP error, not a transport one).
    const http400 = new Error('tcp://… answered /version with …', {
      cause: Object.assign(
        new Error('(HTTP code 400) unexpected - Client sent an HTTP request to an HTTPS server.\n '),
        {
          statusCode: 400,
          json: Buffer.from('Client sent an HTTP request to an HTTPS server.\n'),
        },
      ),
    });
    expect(tlsFailure(tcp(null), http400)).toMatch(
      /^TLS: tcp:\/\/127\.0\.0\.1:2376 requires TLS but was reached without it: add --tls-verify/,
    );
    expect(tlsFailure(tcp(null), http400)).not.toContain('\n');
  });

  it('anything else is not a TLS problem', () => {
    expect(
      tlsFailure(tcp({ ca: '/ca' }), wrapped({ code: 'ECONNREFUSED', message: 'connect ECONNREFUSED 127.0.0.1:2376' })),
    ).toBeNull();
    expect(tlsFailure(tcp(null), wrapped({ statusCode: 500, message: 'boom' }))).toBeNull();
    expect(
      tlsFailure(targetFor('unix:///x.sock', {}), wrapped({ code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' })),
    ).toBeNull();
  });
});
