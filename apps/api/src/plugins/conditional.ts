import type { IfVersion } from '@taskman/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';

/**
 * Conditional requests (RFC 9110 §13) for versioned resources (tasks, projects): the entity tag
 * of a resource is its `version`, quoted. A `W/` prefix is accepted everywhere: a proxy that
 * compresses a response (nginx with gzip) weakens its tag, and a client should not lose its
 * lost-update protection for that, since the version says exactly which state it saw.
 */
export function etagOf(version: number): string {
  return `"${version}"`;
}

/** The versions an `If-Match` or `If-None-Match` header names: "*" (any) or a list. */
function parseTags(header: string | string[] | undefined): '*' | number[] | undefined {
  if (header === undefined) return undefined;
  const raw = Array.isArray(header) ? header.join(',') : header;
  if (raw.trim() === '*') return '*';
  const versions: number[] = [];
  for (const part of raw.split(',')) {
    const m = /^\s*(?:W\/)?"(\d{1,9})"\s*$/.exec(part);
    // A tag that is not one of ours names no version: it can never match.
    if (m) versions.push(Number(m[1]));
  }
  return versions;
}

/** What a write may apply to, from `If-Match`: undefined when absent or "*". */
export function ifMatch(request: FastifyRequest): IfVersion {
  const tags = parseTags(request.headers['if-match']);
  return tags === '*' ? undefined : tags;
}

/**
 * Sets the ETag of a versioned resource on the reply; for a GET whose `If-None-Match` names that
 * version, answers 304 Not Modified (no body) and returns true.
 */
export function withEtag(request: FastifyRequest, reply: FastifyReply, version: number): boolean {
  reply.header('etag', etagOf(version));
  if (request.method !== 'GET' && request.method !== 'HEAD') return false;
  const tags = parseTags(request.headers['if-none-match']);
  if (tags === '*' || tags?.includes(version)) {
    reply.code(304).send();
    return true;
  }
  return false;
}

/** OpenAPI and validation: the request headers of conditional requests, to spread into `schema.headers`. */
export const ifNoneMatchHeader = {
  'if-none-match': Type.Optional(
    Type.String({
      maxLength: 1024,
      description: 'The ETag of an earlier response: 304 Not Modified while the resource still has it',
    }),
  ),
};
export const ifMatchHeader = {
  'if-match': Type.Optional(
    Type.String({
      maxLength: 1024,
      description:
        'The ETag of an earlier response: the change applies only while the resource still has it, else 412 with current_version',
    }),
  ),
};
