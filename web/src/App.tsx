import { useEffect } from 'preact/hooks'
import type { Role } from './lib/api'
import { setLang, t, useLang, type Key } from './lib/i18n'
import { navigate, useRoute, type Route } from './lib/router'
import { app, hasRole, logout } from './lib/state'
import { useStore } from './lib/store'
import { Login } from './screens/Login'
import { WallScreen } from './screens/Wall'
import { MapScreen } from './screens/MapView'
import { RegistryScreen } from './screens/Registry'
import { UsersScreen } from './screens/Users'
import { AuditScreen } from './screens/Audit'
import { CasesScreen, showCase } from './screens/Cases'
import { HealthScreen } from './screens/Health'
import { SafetyScreen } from './screens/SafetyIndex'
import { DiscoveryScreen } from './screens/Discovery'
import { FootageScreen } from './screens/Footage'
import { liveEvents } from './lib/events'

/** Which roles see which screen. Screens whose API does not exist yet are not listed at all. */
const NAV: { route: Route; label: Key; roles: Role[] }[] = [
  { route: 'wall', label: 'nav.wall', roles: ['admin', 'technician', 'patrol', 'researcher'] },
  { route: 'cases', label: 'nav.cases', roles: ['admin', 'technician', 'patrol', 'researcher'] },
  { route: 'map', label: 'nav.map', roles: ['admin', 'technician', 'patrol', 'researcher'] },
  { route: 'health', label: 'nav.health', roles: ['admin', 'technician', 'patrol', 'researcher'] },
  { route: 'safety', label: 'nav.safety', roles: ['admin', 'technician', 'patrol', 'researcher'] },
  { route: 'footage', label: 'nav.footage', roles: ['admin', 'researcher'] },
  { route: 'registry', label: 'nav.registry', roles: ['admin', 'technician'] },
  { route: 'discovery', label: 'nav.discovery', roles: ['admin', 'technician'] },
  { route: 'users', label: 'nav.users', roles: ['admin'] },
  { route: 'audit', label: 'nav.audit', roles: ['admin'] },
]

export function App() {
  const lang = useLang()
  const me = useStore(app, (s) => s.me)
  const checking = useStore(app, (s) => s.checking)
  const toast = useStore(app, (s) => s.toast)
  const route = useRoute()
  const flash = useStore(liveEvents, (s) => s.flash)

  useEffect(() => {
    document.title = t('app.title')
  }, [lang])

  if (checking) return <div class="splash">{t('common.loading')}</div>
  if (!me) return <Login />

  const allowed = NAV.filter((n) => hasRole(me, ...n.roles))
  const current = allowed.find((n) => n.route === route)?.route ?? 'wall'
  return (
    <div class="shell">
      <header class="topbar">
        <div class="brand">
          <span class="brand-mark" aria-hidden="true" />
          <span class="brand-title">{t('app.title')}</span>
          <span class="brand-sub">{me.unit?.name ?? t('app.subtitle')}</span>
        </div>
        <nav class="nav" data-testid="nav">
          {allowed.map((n) => (
            <a
              key={n.route}
              href={`/${n.route}`}
              class={n.route === current ? 'active' : ''}
              data-route={n.route}
              onClick={(e) => {
                e.preventDefault()
                navigate(n.route)
              }}
            >
              {t(n.label)}
            </a>
          ))}
        </nav>
        <div class="who">
          <span class="who-name" data-testid="whoami">{me.user.displayName || me.user.username}</span>
          <span class="who-roles">{me.user.roles.map((r) => t(`role.${r}` as Key)).join(' · ')}</span>
          <button class="ghost" onClick={() => setLang(lang === 'zh' ? 'en' : 'zh')} data-testid="lang">
            {t('lang.switch')}
          </button>
          <button class="ghost" onClick={() => void logout()} data-testid="logout">
            {t('nav.logout')}
          </button>
        </div>
      </header>
      <main class="main">
        {current === 'wall' && <WallScreen />}
        {current === 'cases' && <CasesScreen />}
        {current === 'map' && <MapScreen />}
        {current === 'health' && <HealthScreen />}
        {current === 'safety' && <SafetyScreen />}
        {current === 'footage' && <FootageScreen />}
        {current === 'registry' && <RegistryScreen />}
        {current === 'discovery' && <DiscoveryScreen />}
        {current === 'users' && <UsersScreen />}
        {current === 'audit' && <AuditScreen />}
      </main>
      {flash && (
        <div
          class="alarm-flash"
          role="alert"
          data-testid="alarm-flash"
          onClick={() => {
            liveEvents.set({ flash: null })
            showCase(flash.id)
          }}
        >
          ⚠ {t(`akind.${flash.kind ?? 'other'}` as Key)} · {t('case.new', { title: flash.title ?? flash.number ?? '' })}
        </div>
      )}
      {toast && (
        <div class={`toast ${toast.kind}`} role="status" data-testid="toast">
          {toast.text}
        </div>
      )}
    </div>
  )
}
