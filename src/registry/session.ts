/**
 * One registry for one run: how it wants to be authenticated (a ping of /v2/), its credentials (read once, only
 * when it asks for some), a bearer token per repository, and the HEAD of a manifest that answers the question.
 */
import type { OutgoingHttpHeaders } from 'node:http';
import { parseChallenges, type Challenge } from './challenge.js';
import type { CredentialsResult } from './credentials.js';
import type { Credentials } from './docker-config.js';
import { RequestFailed, send, type HttpAnswer, type Transport } from './http.js';
import type { DigestTarget } from './names.js';

export type Outcome = { status: 'present' | 'absent'; reason: null } | { status: 'unknown'; reason: string };

/** Every manifest kind an image's digest may name; distribution answers 404 for an OCI one the client does not accept. */
export const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.v1+prettyjws',
].join(', ');

/** A token is fetched again this long before it expires (the spec's default lifetime is 60 s). */
const TOKEN_MARGIN_MS = 5_000;

/** Thrown inside a check to end it as unknown with this reason. */
class Unknown extends Error {}

export interface SessionOptions {
  transport: Transport;
  registry: string;
  timeoutMs: number;
  clock: () => number;
  credentials: () => Promise<CredentialsResult>;
  /** Counts every HTTP request made. */
  counted: () => void;
  /** Remembers a secret so that no reason can carry it. */
  secret: (value: string) => void;
}

export class RegistrySession {
  private ping: Promise<Challenge | null> | undefined;
  private creds: Promise<Credentials | null> | undefined;
  private readonly tokens = new Map<string, Promise<{ header: string; expires: number }>>();

  constructor(private readonly o: SessionOptions) {}

  async check(target: DigestTarget): Promise<Outcome> {
    try {
      let access = await this.access(target.name);
      let answer = await this.head(target, access.header);
      // A registry that lets anyone ping /v2/ may still challenge for the repository: learn that, and ask again.
      const challenge = chooseChallenge(answer);
      if (answer.status === 401 && access.header === null && challenge) {
        this.ping = Promise.resolve(challenge);
        access = await this.access(target.name);
        if (access.header !== null) answer = await this.head(target, access.header);
      }
      if (answer.status === 200) return { status: 'present', reason: null };
      if (answer.status === 404) return { status: 'absent', reason: null };
      if (answer.status === 401 || answer.status === 403) {
        if (access.credentials) return { status: 'unknown', reason: 'credentials refused' };
        return {
          status: 'unknown',
          reason: `not authorized (HTTP ${answer.status}; no credentials for ${this.o.registry})`,
        };
      }
      return { status: 'unknown', reason: httpReason(answer) };
    } catch (error) {
      if (error instanceof Unknown || error instanceof RequestFailed)
        return { status: 'unknown', reason: error.message };
      throw error;
    }
  }

  private head(target: DigestTarget, authorization: string | null): Promise<HttpAnswer> {
    const url = `${this.o.transport.base}/v2/${target.name}/manifests/${target.digest}`;
    const headers: OutgoingHttpHeaders = { accept: MANIFEST_ACCEPT };
    if (authorization !== null) headers.authorization = authorization;
    return this.request(url, 'HEAD', headers);
  }

  private async request(url: string, method: string, headers: OutgoingHttpHeaders, body?: string): Promise<HttpAnswer> {
    this.o.counted();
    return send(url, { transport: this.o.transport, method, headers, timeoutMs: this.o.timeoutMs, body });
  }

  /** The Authorization header for a repository (null: anonymous), and whether it carries credentials. */
  private async access(name: string): Promise<{ header: string | null; credentials: boolean }> {
    this.ping ??= this.challenge();
    const challenge = await this.ping;
    if (challenge === null) return { header: null, credentials: false };
    this.creds ??= this.readCredentials();
    const credentials = await this.creds;
    if (challenge.scheme === 'basic') {
      if (credentials?.kind !== 'basic') return { header: null, credentials: false };
      return { header: basicHeader(credentials), credentials: true };
    }
    const cached = this.tokens.get(name);
    const token =
      cached && (await cached).expires > this.o.clock() ? cached : this.fetchToken(challenge, name, credentials);
    this.tokens.set(name, token);
    return { header: (await token).header, credentials: credentials !== null };
  }

  /** GET /v2/: 200 (or anything but 401) needs no authentication; 401 says how (Bearer preferred to Basic). */
  private async challenge(): Promise<Challenge | null> {
    const answer = await this.request(`${this.o.transport.base}/v2/`, 'GET', {});
    if (answer.status !== 401) return null;
    const chosen = chooseChallenge(answer);
    if (!chosen) throw new Unknown('HTTP 401 without a usable Bearer or Basic challenge');
    return chosen;
  }

  private async readCredentials(): Promise<Credentials | null> {
    const result = await this.o.credentials();
    if ('error' in result) throw new Unknown(result.error);
    const c = result.credentials;
    if (c?.kind === 'basic') this.o.secret(c.password);
    if (c?.kind === 'identity') this.o.secret(c.token);
    return c;
  }

  /** A pull token for the repository: GET the realm (with basic credentials), or POST an identity token (OAuth2). */
  private async fetchToken(
    challenge: Challenge,
    name: string,
    credentials: Credentials | null,
  ): Promise<{ header: string; expires: number }> {
    const realm = new URL(challenge.params.realm!);
    const scope = `repository:${name}:pull`;
    const service = challenge.params.service ?? '';
    let answer: HttpAnswer;
    try {
      if (credentials?.kind === 'identity') {
        const form = new URLSearchParams({
          grant_type: 'refresh_token',
          refresh_token: credentials.token,
          service,
          scope,
        });
        form.set('client_id', 'imgsweep');
        const headers = { 'content-type': 'application/x-www-form-urlencoded' };
        answer = await this.request(realm.href, 'POST', headers, form.toString());
      } else {
        if (service) realm.searchParams.set('service', service);
        realm.searchParams.append('scope', scope);
        const headers: OutgoingHttpHeaders = {};
        if (credentials) {
          realm.searchParams.set('account', credentials.username);
          headers.authorization = basicHeader(credentials);
        }
        answer = await this.request(realm.href, 'GET', headers);
      }
    } catch (error) {
      throw error instanceof RequestFailed ? new Unknown(`token request: ${error.reason}`) : error;
    }
    if (answer.status === 401 || answer.status === 403) {
      throw new Unknown(credentials ? 'credentials refused' : `token request refused (HTTP ${answer.status})`);
    }
    if (answer.status !== 200) throw new Unknown(`token request: ${httpReason(answer)}`);
    let body: { token?: unknown; access_token?: unknown; expires_in?: unknown };
    try {
      body = JSON.parse(answer.body) as typeof body;
    } catch {
      throw new Unknown('token request: the answer is not JSON');
    }
    const token = typeof body.token === 'string' && body.token ? body.token : body.access_token;
    if (typeof token !== 'string' || token === '') throw new Unknown('token request: no token in the answer');
    this.o.secret(token);
    const lifetime = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : 60;
    return { header: `Bearer ${token}`, expires: this.o.clock() + lifetime * 1000 - TOKEN_MARGIN_MS };
  }
}

/** The challenge of a 401 answer to follow: Bearer (with a realm) before Basic. */
function chooseChallenge(answer: HttpAnswer): Challenge | null {
  if (answer.status !== 401) return null;
  const challenges = parseChallenges(answer.headers['www-authenticate']);
  const bearer = challenges.find((c) => c.scheme === 'bearer' && c.params.realm);
  return bearer ?? challenges.find((c) => c.scheme === 'basic') ?? null;
}

function basicHeader(c: Credentials): string {
  const password = c.kind === 'basic' ? c.password : c.token;
  return `Basic ${Buffer.from(`${c.username}:${password}`).toString('base64')}`;
}

/** "HTTP 500", with the registry's first error code when its body has one (a HEAD answer has no body). */
function httpReason(answer: HttpAnswer): string {
  let code = '';
  try {
    const parsed = JSON.parse(answer.body) as { errors?: { code?: unknown }[] };
    if (typeof parsed.errors?.[0]?.code === 'string') code = ` ${parsed.errors[0].code}`;
  } catch {
    // not JSON
  }
  return `HTTP ${answer.status}${code}${answer.status === 429 ? ' (rate limited)' : ''}`;
}
