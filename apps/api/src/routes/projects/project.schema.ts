import { PROJECT_SORTS, type ProjectRow } from '@taskman/core';
import { type Static, Type } from 'typebox';
import { DateTime, iso, literals, Nullable, PageQuery, Uuid } from '../../schemas/common';

export const Project = Type.Object(
  {
    id: Uuid,
    name: Type.String(),
    description: Nullable(Type.String()),
    version: Type.Integer({ minimum: 1, description: 'Increments on every change' }),
    created_at: DateTime,
    updated_at: DateTime,
  },
  { $id: 'Project', title: 'Project' },
);
export type ProjectJson = Static<typeof Project>;

/** Exactly what the API tells about a project. */
export function presentProject(p: ProjectRow): ProjectJson {
  return {
    id: p.id,
    name: p.name,
    description: p.description,
    version: p.version,
    created_at: iso(p.createdAt),
    updated_at: iso(p.updatedAt),
  };
}

// A generous cap before trimming; the service applies the exact 1-200 rule after it.
const Name = Type.String({ minLength: 1, maxLength: 400, description: 'Trimmed; 1 to 200 characters' });
const Description = Nullable(Type.String({ maxLength: 10_000 }));

export const ProjectCreateBody = Type.Object(
  { name: Name, description: Type.Optional(Description) },
  { additionalProperties: false },
);

export const ProjectPatchBody = Type.Object(
  { name: Type.Optional(Name), description: Type.Optional(Description) },
  { additionalProperties: false },
);

export const ProjectListQuery = Type.Object(
  { ...PageQuery, sort: Type.Optional(literals(PROJECT_SORTS, { default: 'created_at' })) },
  { additionalProperties: false },
);
