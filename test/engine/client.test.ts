import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { makeClients } from '../../src/engine/client.js';
import { targetFor } from '../../src/engine/host.js';

describe('makeClients', () => {
  // docker-modem formats each request's options, agent included, with util.inspect: a full agent with its
  // sockets made every call cost milliseconds of CPU.
  it.each(['unix:///nowhere/docker.sock', 'tcp://127.0.0.1:2375', 'ssh://me@box'])(
    'gives dockerode an agent that formats as one word (%s)',
    (host) => {
      const clients = makeClients(targetFor(host, {}), {});
      try {
        const modem = (clients.docker('1.41', 1_000) as unknown as { modem: { agent: unknown } }).modem;
        expect(inspect(modem.agent, { showHidden: true, depth: null })).toBe('Agent');
      } finally {
        clients.close();
      }
    },
  );
});
