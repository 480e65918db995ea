import { PASSWORD_MAX_BYTES, PASSWORD_MIN_BYTES, ROLES, type UserRow } from '@taskman/core';
import { type Static, Type } from 'typebox';
import { DateTime, iso, literals, Nullable, PageQuery, Uuid } from '../../schemas/common';

/** ISO weekdays, Monday first (1 … 7 in the database). */
export const WEEKDAYS = [
  'monday',
  'tuesday',
  'wednesday',
  'thursday',
  'friday',
  'saturday',
  'sunday',
] as const;
export const weekdayNumber = (day: (typeof WEEKDAYS)[number] | null) =>
  day === null ? null : WEEKDAYS.indexOf(day) + 1;

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
    weekly_report_day: Nullable(
      literals(WEEKDAYS, { description: 'The day of the weekly report email; null: none' }),
    ),
    weekly_report_hour: Type.Integer({ minimum: 0, maximum: 23, description: 'Its hour, in your time zone' }),
    disabled_at: Nullable(
      Type.String({
        format: 'date-time',
        description:
          'When an admin disabled the account (it cannot sign in, its tokens and keys stop); null: active',
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
    weekly_report_day: u.weeklyReportDay === null ? null : WEEKDAYS[u.weeklyReportDay - 1]!,
    weekly_report_hour: u.weeklyReportHour,
    disabled_at: u.disabledAt ? iso(u.disabledAt) : null,
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
    weekly_report_day: Type.Optional(
      Nullable(literals(WEEKDAYS, { description: 'Get a weekly report email on this day; null: stop' })),
    ),
    weekly_report_hour: Type.Optional(
      Type.Integer({ minimum: 0, maximum: 23, description: 'At this hour, in your time zone (default 8)' }),
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
  {
    q: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 254,
        description: 'Part of an email address or a name (any case)',
      }),
    ),
    page: PageQuery.page,
    limit: PageQuery.limit,
  },
  { additionalProperties: false },
);

/** PATCH /admin/users/{id} */
export const AdminUserPatchBody = Type.Object(
  {
    disabled: Type.Optional(
      Type.Boolean({
        description:
          'true: the account cannot sign in and its tokens and API keys stop working at once; false: enabled again',
      }),
    ),
    role: Type.Optional(literals(ROLES)),
  },
  { additionalProperties: false, minProperties: 1 },
);
