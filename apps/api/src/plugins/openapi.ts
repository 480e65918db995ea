import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { JobsOverview } from '../routes/admin/admin.schema';
import { AuditEntry } from '../routes/admin/audit.schema';
import { DashboardSchema } from '../routes/admin/dashboard.schema';
import { ApiKey, CreatedApiKey } from '../routes/api-keys/api-key.schema';
import { Session } from '../routes/auth/auth.schema';
import { CalendarConnection } from '../routes/calendar/calendar.routes';
import { Project } from '../routes/projects/project.schema';
import { ProductivityReport } from '../routes/reports/report.schema';
import { SyncPage } from '../routes/sync/sync.routes';
import { QuickAddParse } from '../routes/tasks/quick-add.schema';
import { Task } from '../routes/tasks/task.schema';
import { User } from '../routes/users/user.schema';
import {
  Webhook,
  WebhookDelivery,
  WebhookDeliveryDetail,
  WebhookWithSecret,
} from '../routes/webhooks/webhook.schema';
import { ErrorBody } from '../schemas/common';

/** The hash of the inline <style> of Swagger UI's default logo (.logo_small_svg__cls-2{fill:#fff}…). */
const SWAGGER_LOGO_STYLE = "'sha256-RL3ie0nH+Lzz2YNqQN83mnU0J1ot4QL7b99vMdIX99w='";

/** Operations whose JSON body is optional (path as in the document, method). */
const OPTIONAL_BODY: [string, string][] = [['/api/v1/webhooks/{id}/rotate-secret', 'post']];

/**
 * The OpenAPI 3.1 document, generated from the same TypeBox schemas that validate requests and
 * serialise responses, at /openapi.json; an interactive reference at /docs.
 */
export default fp(async function openapi(app: FastifyInstance, opts: { appUrl: string }) {
  // Named schemas: components of the document, referenced by the routes (see `ref`).
  for (const schema of [
    ErrorBody,
    User,
    Session,
    Project,
    Task,
    JobsOverview,
    DashboardSchema,
    AuditEntry,
    ApiKey,
    CreatedApiKey,
    Webhook,
    WebhookWithSecret,
    WebhookDelivery,
    WebhookDeliveryDetail,
    ProductivityReport,
    CalendarConnection,
    SyncPage,
    QuickAddParse,
  ])
    app.addSchema(schema);
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Taskman API',
        version: '1.0.0',
        description:
          'Tasks, projects and accounts. Every response is `{success, data}` (lists add `meta`) or `{success: false, error: {code, message, details?}, request_id}`.',
        license: { name: 'MIT', identifier: 'MIT' },
      },
      servers: [{ url: opts.appUrl }],
      tags: [
        { name: 'auth', description: 'Register, log in, log out' },
        { name: 'users', description: 'Your account' },
        { name: 'projects', description: 'Projects group tasks' },
        { name: 'tasks', description: 'Tasks' },
        { name: 'api-keys', description: 'Personal access tokens with scopes, for scripts and integrations' },
        {
          name: 'webhooks',
          description:
            'Signed event deliveries (Standard Webhooks): task.created, task.updated, task.completed, task.deleted, project.created, project.updated, project.deleted, ping',
        },
        { name: 'reports', description: 'Productivity reports, in your time zone' },
        { name: 'calendar', description: 'A secret iCalendar feed of your tasks' },
        { name: 'sync', description: 'Delta sync for offline clients: what changed since a cursor' },
        { name: 'events', description: 'Your changes live, as Server-Sent Events' },
        { name: 'health', description: 'Liveness and readiness' },
        { name: 'admin', description: 'Operations, for admins (and from ADMIN_IP_ALLOWLIST when set)' },
      ],
      components: {
        securitySchemes: {
          bearerAuth: {
            type: 'http',
            scheme: 'bearer',
            bearerFormat: 'JWT',
            description: 'A token from /auth/login',
          },
          apiKeyAuth: {
            type: 'http',
            scheme: 'bearer',
            bearerFormat: 'tm_…',
            description:
              'An API key from POST /api-keys, in the same Authorization: Bearer header. Each route lists the scopes a key needs.',
          },
        },
      },
    },
    // A body that may be left out (the defaults apply): the document must not say it is required.
    transformObject: (documentObject) => {
      const doc = (documentObject as { openapiObject: Record<string, unknown> }).openapiObject as {
        paths?: Record<string, Record<string, { requestBody?: { required?: boolean } }>>;
      };
      for (const [path, method] of OPTIONAL_BODY) {
        const body = doc.paths?.[path]?.[method]?.requestBody;
        if (body) body.required = false;
      }
      return doc;
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) },
  });
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    uiConfig: { docExpansion: 'list', deepLinking: true, persistAuthorization: true, tryItOutEnabled: true },
    staticCSP: true,
    // Swagger UI's policy, adjusted: its top bar first renders Swagger's logo, an SVG with an inline
    // <style> (replaced by ours at once), allowed by its hash; and no upgrade-insecure-requests,
    // which over plain HTTP (other than localhost) would send the page's own files to https:// and
    // break it.
    transformStaticCSP: (header) =>
      header
        .replace(/style-src 'self' https:/, `style-src 'self' https: ${SWAGGER_LOGO_STYLE}`)
        .replace(/\s*upgrade-insecure-requests;?/, '')
        .replace(/\s+;/g, ';'),
    theme: { title: 'Taskman API' },
    logo: {
      type: 'image/svg+xml',
      content: Buffer.from(
        '<svg xmlns="http://www.w3.org/2000/svg" width="150" height="32"><text x="0" y="24" font-family="sans-serif" font-size="24" font-weight="700" fill="#fff">✓ Taskman</text></svg>',
      ),
    },
  });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
});
