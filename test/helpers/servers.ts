/**
 * Small real servers on 127.0.0.1 for hostile-HTTP tests: a scripted server
 * and a forward proxy that counts what passes through it. Both close in
 * afterAll/afterEach through the cleanup list the caller owns.
 */
import { readFileSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { once } from 'node:events';

export type Cleanup = () => Promise<void> | void;

export interface Hit {
  n: number;
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
}

export interface ScriptedServer {
  url: string;
  hits: Hit[];
}

/** Listens on a free loopback port; the server (and its open connections) close with the test's cleanups. */
export async function listen(server: Server, cleanups: Cleanup[]): Promise<string> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(async () => {
    server.closeAllConnections();
    server.close();
    await once(server, 'close').catch(() => {});
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A server whose every request goes to `handler`; each request is logged with its headers. */
export async function scriptedServer(
  cleanups: Cleanup[],
  handler: (req: IncomingMessage, res: ServerResponse, n: number) => void,
): Promise<ScriptedServer> {
  const hits: Hit[] = [];
  const server = createServer((req, res) => {
    hits.push({ n: hits.length + 1, method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    handler(req, res, hits.length);
  });
  return { url: await listen(server, cleanups), hits };
}

export interface CountingProxy {
  url: string;
  /** absolute-URI requests forwarded (plain-http targets) */
  forwarded: string[];
  /** CONNECT tunnels opened (host:port) */
  tunnels: string[];
  /** every byte the client sent through the tunnels (encrypted, for an https target) */
  tunnelled: () => Buffer;
}

/** A forward proxy as corporate networks run them: absolute-URI GETs forwarded, CONNECT tunnelled. */
export async function countingProxy(cleanups: Cleanup[]): Promise<CountingProxy> {
  const forwarded: string[] = [];
  const tunnels: string[] = [];
  const seen: Buffer[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    forwarded.push(req.url ?? '');
    let target: URL;
    try {
      target = new URL(req.url ?? '');
    } catch {
      res.writeHead(400).end('proxy: not an absolute URI');
      return;
    }
    const upstream = httpRequest(
      target,
      { method: req.method, headers: { ...req.headers, host: target.host } },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.writeHead(502).end('proxy: upstream failed'));
    req.pipe(upstream);
  });
  server.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => {
    tunnels.push(req.url ?? '');
    const [host, port] = (req.url ?? '').split(':');
    const upstream = connect(Number(port), host!, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      seen.push(head);
      client.on('data', (chunk: Buffer) => seen.push(chunk));
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(upstream).add(client);
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  cleanups.push(() => sockets.forEach((socket) => socket.destroy()));
  return { url: await listen(server, cleanups), forwarded, tunnels, tunnelled: () => Buffer.concat(seen) };
}

/**
 * Test-only TLS material (./tls): a CA and a certificate for 127.0.0.1 and
 * localhost signed by it, valid until 2126. The CLI trusts the CA through
 * NODE_EXTRA_CA_CERTS=TEST_CA; nothing else ever does.
 */
export const TEST_CA = new URL('./tls/ca.pem', import.meta.url).pathname;

/**
 * An https:// front on 127.0.0.1 for a plain-http server: TLS is ended here
 * and the bytes go on to `target` (an http://127.0.0.1:PORT root) as they are.
 */
export async function tlsFront(cleanups: Cleanup[], target: string): Promise<string> {
  const port = Number(new URL(target).port);
  const sockets = new Set<Socket>();
  const server = createTlsServer(
    { key: readFileSync(new URL('./tls/server-key.pem', import.meta.url)), cert: readFileSync(new URL('./tls/server-cert.pem', import.meta.url)) },
    (socket) => {
      const upstream = connect(port, '127.0.0.1');
      sockets.add(socket).add(upstream);
      socket.pipe(upstream).pipe(socket);
      socket.on('error', () => upstream.destroy());
      upstream.on('error', () => socket.destroy());
    },
  );
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(async () => {
    sockets.forEach((socket) => socket.destroy());
    server.close();
    await once(server, 'close').catch(() => {});
  });
  return `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
}
