import { useEffect, useState } from 'preact/hooks'
import { api, type AuditEntry, type ChainVerdict } from '../lib/api'
import { t, useLang } from '../lib/i18n'
import { app, toast } from '../lib/state'
import { useStore } from '../lib/store'

export function AuditScreen() {
  useLang()
  const [rows, setRows] = useState<AuditEntry[]>([])
  const [cursor, setCursor] = useState<string | null>(null)
  const [action, setAction] = useState('')
  const [actor, setActor] = useState('')
  const [verdict, setVerdict] = useState<ChainVerdict | null>(null)
  const [verifying, setVerifying] = useState(false)
  // The chain spans the whole gateway: only its administrators (no unit, above every street) may verify it.
  const wholeTree = useStore(app, (s) => s.me?.user.unitId === null)

  const load = async (more: boolean) => {
    try {
      const page = await api.audit({ limit: '100', action: action.trim() || undefined, actor: actor.trim() || undefined, cursor: more ? cursor ?? undefined : undefined })
      setRows(more ? [...rows, ...page.items] : page.items)
      setCursor(page.nextCursor)
    } catch (err) {
      toast(err instanceof Error ? err.message : String(err), 'error')
    }
  }
  useEffect(() => {
    const timer = setTimeout(() => void load(false), 250)
    return () => clearTimeout(timer)
  }, [action, actor])

  const verify = async () => {
    setVerifying(true)
    try {
      setVerdict(await api.verifyAudit())
    } catch (err) {
      toast(err instanceof Error ? err.message : String(err), 'error')
    } finally {
      setVerifying(false)
    }
  }

  return (
    <div class="page" data-testid="audit">
      <div class="page-head">
        <h1>{t('audit.title')}</h1>
        {wholeTree && (
          <button class="primary" onClick={() => void verify()} disabled={verifying} data-testid="audit-verify">
            ✓ {t('audit.verify')}
          </button>
        )}
        {verdict && (
          <span class={`notice ${verdict.ok ? 'ok' : 'error'}`} data-testid="audit-verdict">
            {verdict.ok ? t('audit.ok', { rows: verdict.rows }) : t('audit.broken', { id: verdict.firstBrokenId ?? '?', reason: verdict.reason ?? '' })}
            {verdict.ok && verdict.warning ? ` · ${t('audit.anchorWarning', { warning: verdict.warning })}` : ''}
          </span>
        )}
      </div>
      <div class="filters">
        <input type="search" placeholder={t('audit.filterAction')} value={action} onInput={(e) => setAction(e.currentTarget.value)} />
        <input type="search" placeholder={t('audit.filterActor')} value={actor} onInput={(e) => setActor(e.currentTarget.value)} />
        <button onClick={() => void load(false)}>{t('common.refresh')}</button>
      </div>
      <table class="grid" data-testid="audit-table">
        <thead>
          <tr>
            <th>#</th>
            <th>{t('audit.at')}</th>
            <th>{t('audit.actor')}</th>
            <th>{t('audit.action')}</th>
            <th>{t('audit.target')}</th>
            <th>{t('audit.client')}</th>
            <th>{t('audit.detail')}</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.id}>
              <td class="num muted">{r.id}</td>
              <td class="num small">{new Date(r.at).toLocaleString()}</td>
              <td>{r.actor}</td>
              <td><code>{r.action}</code></td>
              <td class="small">{r.targetType ? `${r.targetType} ${r.targetId ?? ''}` : '—'}</td>
              <td class="small muted">{r.client ?? '—'}</td>
              <td><pre class="detail">{Object.keys(r.detail).length ? JSON.stringify(r.detail) : ''}</pre></td>
            </tr>
          ))}
        </tbody>
      </table>
      {cursor && <button onClick={() => void load(true)}>{t('audit.more')}</button>}
    </div>
  )
}
