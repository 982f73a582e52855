import { useState } from 'preact/hooks'
import { api, ApiError } from '../lib/api'
import { setLang, t, useLang } from '../lib/i18n'
import { app, loadData } from '../lib/state'
import { useStore } from '../lib/store'

export function Login() {
  const lang = useLang()
  const expired = useStore(app, (s) => s.expired)
  const [username, setUsername] = useState('')
  const [password, setPassword] = useState('')
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)

  const submit = async (e: Event) => {
    e.preventDefault()
    setBusy(true)
    setError(null)
    try {
      await api.login(username.trim(), password)
      const me = await api.me()
      app.set({ me, expired: false })
      await loadData()
    } catch (err) {
      setError(t('login.failed', { msg: err instanceof ApiError ? err.message : String(err) }))
    } finally {
      setBusy(false)
    }
  }

  return (
    <div class="login-page">
      <form class="login-card" onSubmit={submit} data-testid="login-form">
        <div class="login-head">
          <span class="brand-mark big" aria-hidden="true" />
          <div>
            <h1>{t('app.title')}</h1>
            <p class="muted">{t('app.subtitle')}</p>
          </div>
        </div>
        {expired && <p class="notice warn" data-testid="expired">{t('login.expired')}</p>}
        <label>
          {t('login.username')}
          <input name="username" autocomplete="username" value={username} onInput={(e) => setUsername(e.currentTarget.value)} required autofocus />
        </label>
        <label>
          {t('login.password')}
          <input name="password" type="password" autocomplete="current-password" value={password} onInput={(e) => setPassword(e.currentTarget.value)} required />
        </label>
        {error && <p class="notice error" data-testid="login-error">{error}</p>}
        <button type="submit" class="primary" disabled={busy}>
          {busy ? t('login.busy') : t('login.submit')}
        </button>
        <div class="login-foot">
          <span />
          <button type="button" class="ghost" onClick={() => setLang(lang === 'zh' ? 'en' : 'zh')}>
            {t('lang.switch')}
          </button>
        </div>
      </form>
    </div>
  )
}
