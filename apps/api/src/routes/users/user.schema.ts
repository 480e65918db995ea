import { PASSWORD_MAX_BYTES, PASSWORD_MIN_BYTES, ROLES, type UserRow } from '@taskman/core';
import { type Static, Type } from 'typebox';
import { DateTime, iso, literals, Nullable, PageQuery, Uuid } from '../../schemas/common';

export const User = Type.Object(
  {
    id: Uuid,
    email: Type.String({ format: 'email' }),
    name: Type.String(),
    role: literals(ROLES),
    timezone: Type.String({ description: 'IANA time zone, e.g. Europe/Paris' }),
    reminder_lead_minutes: Nullable(
      Type.Integer({
        description:
          'Minutes before the due time a task reminds you by email, unless it says otherwise; null: no automatic reminders',
      }),
    ),
    created_at: DateTime,
    updated_at: DateTime,
  },
  { $id: 'User', title: 'User' },
);
export type UserJson = Static<typeof User>;

/** Exactly what the API tells about a user: never the password hash or session epoch. */
export function presentUser(u: UserRow): UserJson {
  return {
    id: u.id,
    email: u.email,
    name: u.name,
    role: u.role,
    timezone: u.timezone,
    reminder_lead_minutes: u.reminderLeadMinutes,
    created_at: iso(u.createdAt),
    updated_at: iso(u.updatedAt),
  };
}

export const Password = Type.String({
  minLength: 1,
  // Characters, not bytes: the 8-72 byte rule is checked by the service, which sees UTF-8.
  maxLength: PASSWORD_MAX_BYTES,
  description: `${PASSWORD_MIN_BYTES} to ${PASSWORD_MAX_BYTES} bytes of UTF-8`,
});
export const Name = Type.String({ minLength: 1, maxLength: 100 });
export const TimeZone = Type.String({
  minLength: 1,
  maxLength: 64,
  description: 'IANA time zone, e.g. Europe/Paris',
});

export const ProfilePatchBody = Type.Object(
  {
    name: Type.Optional(Name),
    timezone: Type.Optional(TimeZone),
    reminder_lead_minutes: Type.Optional(
      Nullable(
        Type.Integer({
          minimum: 0,
          maximum: 10_080,
          description: 'Minutes before the due time (0 to 10080, a week); null: no automatic reminders',
        }),
      ),
    ),
  },
  { additionalProperties: false },
);

export const PasswordChangeBody = Type.Object(
  { current_password: Type.String({ minLength: 1, maxLength: 1024 }), new_password: Password },
  { additionalProperties: false },
);

export const DeleteAccountBody = Type.Object(
  {
    password: Type.String({
      minLength: 1,
      maxLength: 1024,
      description: 'Your current password, to confirm',
    }),
  },
  { additionalProperties: false },
);

export const UserListQuery = Type.Object(
  { page: PageQuery.page, limit: PageQuery.limit },
  { additionalProperties: false },
);
