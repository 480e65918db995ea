import { Type } from 'typebox';
import { DateTime, ref } from '../../schemas/common';
import { Name, Password, TimeZone, User } from '../users/user.schema';

const Email = Type.String({ format: 'email', minLength: 3, maxLength: 254 });

export const RegisterBody = Type.Object(
  { email: Email, password: Password, name: Name, timezone: Type.Optional(TimeZone) },
  { additionalProperties: false },
);

export const SignupPending = Type.Object({
  status: Type.Literal('confirmation_sent'),
  email: Type.String({ description: 'Where the confirmation mail went (as given, normalised)' }),
  message: Type.String(),
});

export const VerifyEmailBody = Type.Object(
  {
    token: Type.String({
      minLength: 16,
      maxLength: 128,
      pattern: '^[A-Za-z0-9_-]+$',
      description: 'The token of the confirmation link (after #token=)',
    }),
  },
  { additionalProperties: false },
);

export const LoginBody = Type.Object(
  {
    email: Type.String({ minLength: 1, maxLength: 254 }),
    password: Type.String({ minLength: 1, maxLength: 1024 }),
  },
  { additionalProperties: false },
);

export const Session = Type.Object(
  {
    token: Type.String({ description: 'Send as Authorization: Bearer <token>' }),
    token_type: Type.Literal('Bearer'),
    expires_at: DateTime,
    user: ref(User),
  },
  { $id: 'Session', title: 'Session' },
);
