import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { ErrorBody } from '../schemas/common';

/**
 * The OpenAPI 3.1 document, generated from the same TypeBox schemas that validate requests and
 * serialise responses, at /openapi.json; an interactive reference at /docs.
 */
export default fp(async function openapi(app: FastifyInstance, opts: { appUrl: string }) {
  app.addSchema(ErrorBody);
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
        { name: 'health', description: 'Liveness and readiness' },
      ],
      components: {
        securitySchemes: {
          bearerAuth: {
            type: 'http',
            scheme: 'bearer',
            bearerFormat: 'JWT',
            description: 'A token from /auth/login',
          },
        },
      },
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) },
  });
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    uiConfig: { docExpansion: 'list', deepLinking: true, persistAuthorization: true, tryItOutEnabled: true },
    staticCSP: true,
  });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
});
