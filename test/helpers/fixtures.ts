/**
 * Per-file lifecycles for the fixture server and a CLI sandbox: started in
 * beforeAll, closed in afterAll, reached through a getter inside the tests.
 */
import { afterAll, beforeAll } from 'vitest';
import { startFixtureServer, type FixtureServer, type FixtureServerOptions } from '../../fixtures/server.js';
import { createSandbox, type Sandbox } from './cli.js';

export function useServer(options: FixtureServerOptions): () => FixtureServer {
  let server: FixtureServer | undefined;
  beforeAll(async () => {
    server = await startFixtureServer(options);
  });
  afterAll(async () => {
    await server?.close();
  });
  return () => {
    if (server === undefined) throw new Error('server not started');
    return server;
  };
}

export function useSandbox(): () => Sandbox {
  let sandbox: Sandbox | undefined;
  beforeAll(() => {
    sandbox = createSandbox();
  });
  afterAll(() => sandbox?.cleanup());
  return () => {
    if (sandbox === undefined) throw new Error('sandbox not created');
    return sandbox;
  };
}
