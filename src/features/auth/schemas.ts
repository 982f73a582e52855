import { Type } from 'typebox'
import { IdParams, problemResponses, StringEnum } from '../../core/http/schemas.js'
import { ROLES } from '../../core/scope.js'

export const RoleSchema = StringEnum(ROLES)
const Roles = Type.Array(RoleSchema, { minItems: 1, maxItems: 4, uniqueItems: true })
const Username = Type.String({ minLength: 2, maxLength: 64, pattern: '^[A-Za-z0-9][A-Za-z0-9._@-]*$' })
const Password = Type.String({ minLength: 1, maxLength: 256 })

export const UserSchema = Type.Object({
  id: Type.Integer(),
  username: Type.String(),
  displayName: Type.String(),
  unitId: Type.Union([Type.Integer(), Type.Null()]),
  roles: Type.Array(RoleSchema),
  disabled: Type.Boolean(),
  locked: Type.Boolean(),
  lastLoginAt: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String(),
  updatedAt: Type.String(),
})

const MeSchema = Type.Object({
  user: UserSchema,
  unit: Type.Union([
    Type.Object({ id: Type.Integer(), code: Type.String(), name: Type.String(), tier: Type.String(), path: Type.String() }),
    Type.Null(),
  ]),
})

export const loginSchema = {
  tags: ['auth'],
  summary: 'Sign in; returns a session token (also set as an HttpOnly cookie)',
  body: Type.Object({ username: Type.String({ minLength: 1, maxLength: 64 }), password: Password }, { additionalProperties: false }),
  response: {
    200: Type.Object({ token: Type.String(), expiresAt: Type.String(), user: UserSchema }),
    ...problemResponses,
  },
}

export const logoutSchema = { tags: ['auth'], summary: 'End this session', response: { 204: Type.Null(), ...problemResponses } }
export const meSchema = { tags: ['auth'], summary: 'Who am I, and my unit', response: { 200: MeSchema, ...problemResponses } }
export const changePasswordSchema = {
  tags: ['auth'],
  summary: 'Change your own password (ends your other sessions)',
  body: Type.Object({ currentPassword: Password, newPassword: Password }, { additionalProperties: false }),
  response: { 204: Type.Null(), ...problemResponses },
}

export const listUsersSchema = {
  tags: ['users'],
  summary: 'Users of your subtree',
  querystring: Type.Object({ unit: Type.Optional(Type.Integer({ minimum: 1 })), role: Type.Optional(RoleSchema) }, { additionalProperties: false }),
  response: { 200: Type.Object({ items: Type.Array(UserSchema) }), ...problemResponses },
}
export const getUserSchema = { tags: ['users'], params: IdParams, response: { 200: UserSchema, ...problemResponses } }
export const createUserSchema = {
  tags: ['users'],
  summary: 'Create a user in a unit of your subtree',
  body: Type.Object(
    {
      username: Username,
      displayName: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
      unitId: Type.Union([Type.Integer({ minimum: 1 }), Type.Null()]),
      roles: Roles,
      password: Password,
    },
    { additionalProperties: false },
  ),
  response: { 201: UserSchema, ...problemResponses },
}
export const updateUserSchema = {
  tags: ['users'],
  summary: 'Change roles, unit, password or disable; ends the user’s sessions',
  params: IdParams,
  body: Type.Object(
    {
      displayName: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
      unitId: Type.Optional(Type.Union([Type.Integer({ minimum: 1 }), Type.Null()])),
      roles: Type.Optional(Roles),
      password: Type.Optional(Password),
      disabled: Type.Optional(Type.Boolean()),
    },
    { additionalProperties: false, minProperties: 1 },
  ),
  response: { 200: UserSchema, ...problemResponses },
}
export const deleteUserSchema = { tags: ['users'], params: IdParams, response: { 204: Type.Null(), ...problemResponses } }
