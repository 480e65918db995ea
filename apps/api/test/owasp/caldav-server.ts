// A minimal CalDAV server on a loopback port, enough for Taskman to sign in, find a task calendar
// and sync: what tsdav asks for (service discovery, the principal, the calendar home, the
// calendars, their reports, calendar-query and multiget REPORTs, PUT and DELETE of objects).
// Each step can be replaced by a hostile answer (API10: unsafe consumption of APIs).
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type Step =
  | 'discovery'
  | 'principal'
  | 'home'
  | 'calendars'
  | 'reports'
  | 'query'
  | 'multiget'
  | 'put'
  | 'delete'
  | 'other';

export interface DavRequest {
  method: string;
  path: string;
  step: Step;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** Answers a step instead of the well-behaved server; return false to let it answer. */
export type Hostile = (req: DavRequest, res: http.ServerResponse) => boolean | Promise<boolean>;

export interface CalDavServer {
  url: string;
  port: number;
  requests: DavRequest[];
  /** Objects stored by PUT, by path. */
  objects: Map<string, { data: string; etag: string }>;
  /** Bytes this server has written into response bodies (what the client was offered). */
  bytesOffered(): number;
  hostile: Hostile | undefined;
  close(): Promise<void>;
}

const XML = 'application/xml; charset=utf-8';
const ok = (inner: string) =>
  `<?xml version="1.0" encoding="utf-8"?>\n<d:multistatus xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav" xmlns:cs="http://calendarserver.org/ns/">${inner}</d:multistatus>`;
const response = (href: string, props: string) =>
  `<d:response><d:href>${href}</d:href><d:propstat><d:prop>${props}</d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>`;

export const multistatus = ok;
export const davResponse = response;

function stepOf(method: string, path: string, body: string): Step {
  if (path.startsWith('/.well-known/')) return 'discovery';
  if (method === 'PROPFIND' && body.includes('current-user-principal')) return 'principal';
  if (method === 'PROPFIND' && body.includes('calendar-home-set')) return 'home';
  if (method === 'PROPFIND' && body.includes('supported-report-set')) return 'reports';
  if (method === 'PROPFIND' && body.includes('resourcetype')) return 'calendars';
  if (method === 'REPORT' && body.includes('calendar-multiget')) return 'multiget';
  if (method === 'REPORT') return 'query';
  if (method === 'PUT') return 'put';
  if (method === 'DELETE') return 'delete';
  return 'other';
}

export async function startCalDav(hostile?: Hostile): Promise<CalDavServer> {
  const requests: DavRequest[] = [];
  const objects = new Map<string, { data: string; etag: string }>();
  let offered = 0;
  let etags = 0;
  const server = http.createServer((req, res) => {
    const write = res.write.bind(res);
    const end = res.end.bind(res);
    const count = (chunk: unknown) => {
      if (typeof chunk === 'string') offered += Buffer.byteLength(chunk);
      else if (chunk instanceof Uint8Array) offered += chunk.byteLength;
    };
    res.write = ((chunk: any, ...rest: any[]) => {
      count(chunk);
      return write(chunk, ...rest);
    }) as typeof res.write;
    res.end = ((chunk?: any, ...rest: any[]) => {
      if (chunk && typeof chunk !== 'function') count(chunk);
      return end(chunk, ...rest);
    }) as typeof res.end;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const path = req.url ?? '/';
      const method = req.method ?? 'GET';
      const dav: DavRequest = { method, path, step: stepOf(method, path, body), headers: req.headers, body };
      requests.push(dav);
      try {
        if (api.hostile && (await api.hostile(dav, res))) return;
      } catch {
        res.destroy();
        return;
      }
      wellBehaved(dav, res);
    });
  });

  function wellBehaved(dav: DavRequest, res: http.ServerResponse) {
    const send = (status: number, xml: string) => {
      res.writeHead(status, { 'content-type': XML });
      res.end(xml);
    };
    switch (dav.step) {
      case 'discovery':
        res.writeHead(404).end();
        return;
      case 'principal':
        return send(
          207,
          ok(response(dav.path, '<d:current-user-principal><d:href>/p/</d:href></d:current-user-principal>')),
        );
      case 'home':
        return send(
          207,
          ok(response('/p/', '<c:calendar-home-set><d:href>/cal/</d:href></c:calendar-home-set>')),
        );
      case 'calendars':
        return send(
          207,
          ok(
            response('/cal/', '<d:resourcetype><d:collection/></d:resourcetype>') +
              response(
                '/cal/tasks/',
                '<d:resourcetype><d:collection/><c:calendar/></d:resourcetype><d:displayname>tasks</d:displayname><c:supported-calendar-component-set><c:comp name="VTODO"/></c:supported-calendar-component-set>',
              ),
          ),
        );
      case 'reports':
        return send(207, ok(response(dav.path, '<d:supported-report-set/>')));
      case 'query':
        return send(
          207,
          ok(
            [...objects.entries()]
              .map(([href, o]) => response(href, `<d:getetag>${o.etag}</d:getetag>`))
              .join(''),
          ),
        );
      case 'multiget': {
        const hrefs = [...dav.body.matchAll(/<d:href>([^<]+)<\/d:href>/g)].map((m) => m[1]!);
        return send(
          207,
          ok(
            hrefs
              .filter((h) => objects.has(h))
              .map((h) =>
                response(
                  h,
                  `<d:getetag>${objects.get(h)!.etag}</d:getetag><c:calendar-data>${xmlEscape(objects.get(h)!.data)}</c:calendar-data>`,
                ),
              )
              .join(''),
          ),
        );
      }
      case 'put': {
        const etag = `"e${++etags}"`;
        objects.set(dav.path, { data: dav.body, etag });
        res.writeHead(201, { etag }).end();
        return;
      }
      case 'delete':
        objects.delete(dav.path);
        res.writeHead(204).end();
        return;
      default:
        res.writeHead(405).end();
    }
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const api: CalDavServer = {
    url: `http://127.0.0.1:${port}/`,
    port,
    requests,
    objects,
    bytesOffered: () => offered,
    hostile,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return api;
}

const xmlEscape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
