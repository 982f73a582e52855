import { useEffect, useState } from 'preact/hooks'
import { api, ApiError, ROLES, type Role, type User } from '../lib/api'
import { t, useLang, type Key } from '../lib/i18n'
import { app, toast } from '../lib/state'
import { useStore } from '../lib/store'

export function UsersScreen() {
  useLang()
  const units = useStore(app, (s) => s.units)
  const me = useStore(app, (s) => s.me)
  const unitName = new Map(units.map((u) => [u.id, u.name]))
  const [users, setUsers] = useState<User[] | null>(null)
  const [form, setForm] = useState({ username: '', displayName: '', unitId: String(me?.unit?.id ?? units[0]?.id ?? ''), roles: ['patrol'] as Role[], password: '' })
  const [error, setError] = useState<string | null>(null)

  const load = () => api.users().then(setUsers, (err: Error) => toast(err.message, 'error'))
  useEffect(() => void load(), [])

  const create = async (e: Event) => {
    e.preventDefault()
    setError(null)
    try {
      const user = await api.createUser({ username: form.username.trim(), displayName: form.displayName.trim() || undefined, unitId: form.unitId ? Number(form.unitId) : null, roles: form.roles, password: form.password })
      toast(t('users.created', { name: user.username }))
      setForm({ ...form, username: '', displayName: '', password: '' })
      await load()
    } catch (err) {
      setError(err instanceof ApiError ? [err.message, ...err.errors.map((x) => `${x.field}: ${x.message}`)].join('；') : String(err))
    }
  }

  const toggleDisabled = async (u: User) => {
    try {
      await api.updateUser(u.id, { disabled: !u.disabled })
      await load()
    } catch (err) {
      toast(err instanceof Error ? err.message : String(err), 'error')
    }
  }

  return (
    <div class="page" data-testid="users">
      <div class="page-head">
        <h1>{t('users.title')}</h1>
      </div>
      <form class="card" onSubmit={create} data-testid="user-form">
        <strong>{t('users.new')}</strong>
        <div class="form-grid">
          <label>{t('users.username')}<input value={form.username} onInput={(e) => setForm({ ...form, username: e.currentTarget.value })} required pattern="[A-Za-z0-9][A-Za-z0-9._@\-]*" name="username" /></label>
          <label>{t('users.displayName')}<input value={form.displayName} onInput={(e) => setForm({ ...form, displayName: e.currentTarget.value })} name="displayName" /></label>
          <label>
            {t('users.unit')}
            <select value={form.unitId} onChange={(e) => setForm({ ...form, unitId: e.currentTarget.value })} name="unitId">
              {me?.unit === null && <option value="">{t('users.noUnit')}</option>}
              {units.map((u) => <option key={u.id} value={u.id}>{u.name}</option>)}
            </select>
          </label>
          <label>{t('users.password')}<input type="password" autocomplete="new-password" value={form.password} onInput={(e) => setForm({ ...form, password: e.currentTarget.value })} required name="password" /></label>
          <div class="wide row">
            <span class="muted">{t('users.roles')}：</span>
            {ROLES.map((r) => (
              <label class="check" key={r}>
                <input
                  type="checkbox"
                  checked={form.roles.includes(r)}
                  onChange={(e) => setForm({ ...form, roles: e.currentTarget.checked ? [...form.roles, r] : form.roles.filter((x) => x !== r) })}
                />
                {t(`role.${r}` as Key)}
              </label>
            ))}
            <button class="primary" type="submit" style={{ marginLeft: 'auto' }} disabled={!form.roles.length}>{t('users.create')}</button>
          </div>
        </div>
        {error && <p class="notice error">{error}</p>}
      </form>
      {!users ? (
        <p class="muted">{t('common.loading')}</p>
      ) : (
        <table class="grid" data-testid="users-table">
          <thead>
            <tr>
              <th>{t('users.username')}</th>
              <th>{t('users.displayName')}</th>
              <th>{t('users.unit')}</th>
              <th>{t('users.roles')}</th>
              <th>{t('users.state')}</th>
              <th>{t('users.lastLogin')}</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {users.map((u) => (
              <tr key={u.id}>
                <td>{u.username}</td>
                <td>{u.displayName}</td>
                <td>{u.unitId === null ? t('users.noUnit') : unitName.get(u.unitId) ?? u.unitId}</td>
                <td>{u.roles.map((r) => t(`role.${r}` as Key)).join('、')}</td>
                <td>{u.disabled ? <span class="badge class-1">{t('users.disabled')}</span> : u.locked ? <span class="badge class-2">{t('users.locked')}</span> : t('users.active')}</td>
                <td class="muted small">{u.lastLoginAt ? new Date(u.lastLoginAt).toLocaleString() : '—'}</td>
                <td>
                  {u.id !== me?.user.id && (
                    <button class="small" onClick={() => void toggleDisabled(u)}>{u.disabled ? t('users.enable') : t('users.disable')}</button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  )
}
