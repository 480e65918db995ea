// The OpenAPI document checked by tools nobody on this project wrote: @apidevtools/swagger-parser
// validates it against the OpenAPI 3.1 schema (and resolves every $ref), and every route the
// Fastify app serves is in it, except the few left out on purpose (listed here, with why).
import { existsSync } from 'node:fs';
import path from 'node:path';
import SwaggerParser from '@apidevtools/swagger-parser';
import type { OpenAPIV3_1 } from 'openapi-types';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, redisEnv, type TestApp } from './helpers/app';
import { ROOT } from './helpers/process';

/** Routes left out of the document on purpose: not part of the API. */
const UNDOCUMENTED = [
  { prefix: '/docs', why: 'the API reference (Swagger UI) itself' },
  { prefix: '/openapi.json', why: 'the document itself' },
  { prefix: '/admin/queues', why: 'Bull Board, a web UI for admins' },
  { prefix: '/metrics', why: "Prometheus's text format for operators, not a JSON API (README: Operations)" },
];
const WEB_APP = new Set(['/', '/*', '/index.html']);

// Fastify's ":id" is OpenAPI's "{id}".
const toOpenApiPath = (url: string) => url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

describe('OpenAPI document', () => {
  let t: TestApp;
  let doc: OpenAPIV3_1.Document;
  const webDist = path.join(ROOT, 'apps/web/dist');

  beforeAll(async () => {
    // With Redis (so Bull Board is mounted) and the built web app when there is one: every route.
    t = await createTestApp({
      env: redisEnv(),
      ...(existsSync(path.join(webDist, 'index.html')) ? { webAppDir: webDist } : {}),
    });
    const res = await t.app.inject({ method: 'GET', url: '/openapi.json' });
    expect(res.statusCode).toBe(200);
    doc = res.json();
  });
  afterAll(() => t?.close());

  it('is valid OpenAPI 3.1 according to swagger-parser, every $ref resolving', async () => {
    // validate() mutates what it is given: hand it a copy.
    const api = (await SwaggerParser.validate(structuredClone(doc) as never)) as OpenAPIV3_1.Document;
    expect(api.openapi).toBe('3.1.0');
    expect(Object.keys(api.paths ?? {}).length).toBeGreaterThan(20);
  });

  it('swagger-parser rejects a broken document (the check has teeth)', async () => {
    const broken = structuredClone(doc) as any;
    broken.paths['/api/v1/tasks'].get.responses['200'].content['application/json'].schema = {
      $ref: '#/components/schemas/NoSuchSchema',
    };
    await expect(SwaggerParser.validate(broken)).rejects.toThrow(/NoSuchSchema|resolve|Missing/i);
  });

  it('describes every route the app serves, except the ones left out on purpose', () => {
    const documented = new Set(
      Object.entries(doc.paths ?? {}).flatMap(([p, item]) =>
        Object.keys(item ?? {})
          .filter((m) => ['get', 'put', 'post', 'delete', 'options', 'head', 'patch'].includes(m))
          .map((m) => `${m.toUpperCase()} ${p}`),
      ),
    );
    const served = t.app.routeTable;
    const hasGet = new Set(served.filter((r) => r.method === 'GET').map((r) => r.url));
    const missing: string[] = [];
    const hiddenUnexpectedly: string[] = [];
    for (const route of served) {
      // Fastify answers HEAD for every GET; the document describes the GET.
      if (route.method === 'HEAD' && hasGet.has(route.url)) continue;
      const onPurpose =
        UNDOCUMENTED.some((u) => route.url === u.prefix || route.url.startsWith(`${u.prefix}/`)) ||
        WEB_APP.has(route.url);
      if (onPurpose) continue;
      if (route.hidden) hiddenUnexpectedly.push(`${route.method} ${route.url}`);
      else if (!documented.has(`${route.method} ${toOpenApiPath(route.url)}`))
        missing.push(`${route.method} ${route.url}`);
    }
    expect(missing, 'routes served but not in the document').toEqual([]);
    expect(hiddenUnexpectedly, 'routes hidden from the document without a reason listed here').toEqual([]);
    // And the check sees the routes it should: the API, Bull Board, the reference.
    expect(served.some((r) => r.url === '/api/v1/webhooks/:id/deliveries/:delivery_id/redeliver')).toBe(true);
    expect(served.some((r) => r.url.startsWith('/admin/queues'))).toBe(true);
  });

  it('documents nothing the app does not serve', () => {
    const served = new Set(t.app.routeTable.map((r) => `${r.method} ${toOpenApiPath(r.url)}`));
    for (const [p, item] of Object.entries(doc.paths ?? {}))
      for (const m of Object.keys(item ?? {}).filter((k) =>
        ['get', 'put', 'post', 'delete', 'patch'].includes(k),
      ))
        expect(served.has(`${m.toUpperCase()} ${p}`), `${m} ${p}`).toBe(true);
  });
});
