import { useEffect, useState } from 'preact/hooks'
import { ApiError, cases, type Case, type CaseDetail } from '../lib/api'
import { liveEvents } from '../lib/events'
import { t, useLang, type Key } from '../lib/i18n'
import { navigate } from '../lib/router'
import { app, hasRole, openCamera, toast } from '../lib/state'
import { createStore, useStore } from '../lib/store'

const fmt = (iso: string) => new Date(iso).toLocaleString()

/** A case the user was sent to from elsewhere (the alarm banner, a tile's "case" button). */
export const casePick = createStore<{ id: number | null; n: number }>({ id: null, n: 0 })
export function showCase(id: number): void {
  casePick.set((s) => ({ id, n: s.n + 1 }))
  navigate('cases')
}

export function CasesScreen() {
  useLang()
  const last = useStore(liveEvents, (s) => s.last)
  const connected = useStore(liveEvents, (s) => s.connected)
  const [filter, setFilter] = useState<'open' | 'all'>('open')
  const [list, setList] = useState<Case[]>([])
  const pick = useStore(casePick, (s) => s)
  const [selected, setSelected] = useState<number | null>(pick.id)
  const [fresh, setFresh] = useState<Set<number>>(new Set())

  const load = async () => {
    try {
      const page = await cases.list({ limit: '200' })
      setList(filter === 'open' ? page.items.filter((c) => c.state !== 'closed' && c.state !== 'archived') : page.items)
    } catch (err) {
      toast(err instanceof Error ? err.message : String(err), 'error')
    }
  }
  useEffect(() => {
    if (pick.id !== null) setSelected(pick.id)
  }, [pick.n])
  useEffect(() => void load(), [filter])
  // every pushed change refreshes the queue; a new case is highlighted
  useEffect(() => {
    if (!last) return
    const timer = setTimeout(() => void load(), 150)
    if (last.type === 'case.created' && last.case) setFresh((f) => new Set([...f, last.case!.id]))
    return () => clearTimeout(timer)
  }, [last?.id])

  return (
    <div class="cases-screen" data-testid="cases">
      <aside class="side">
        <div class="panel-head">
          <h2>{t('case.queue')}</h2>
          <span class={`live-dot ${connected ? 'on' : ''}`} title={connected ? t('case.live') : t('case.offline')} data-testid="live-dot">
            ● {connected ? t('case.live') : t('case.offline')}
          </span>
        </div>
        <div class="seg pad-x">
          <button class={filter === 'open' ? 'on' : ''} onClick={() => setFilter('open')}>{t('case.open')}</button>
          <button class={filter === 'all' ? 'on' : ''} onClick={() => setFilter('all')}>{t('case.all')}</button>
        </div>
        <ul class="case-list" data-testid="case-list">
          {list.length === 0 && <li class="muted pad">{t('case.none')}</li>}
          {list.map((c) => (
            <li
              key={c.id}
              class={`case-item prio-${c.priority}${selected === c.id ? ' selected' : ''}${fresh.has(c.id) ? ' fresh' : ''}`}
              onClick={() => {
                setSelected(c.id)
                setFresh((f) => new Set([...f].filter((x) => x !== c.id)))
              }}
              data-testid="case-item"
              data-case-id={c.id}
              data-state={c.state}
            >
              <div class="row">
                <span class={`prio prio-${c.priority}`}>{t(`prio.${c.priority}` as Key)}</span>
                <span class="case-kind">{t(`akind.${c.kind}` as Key)}</span>
                {c.overdue.any && <span class="badge class-1">{t('case.overdue')}</span>}
                <span class="muted small case-no">{c.number}</span>
              </div>
              <div class="case-title">{c.title}</div>
              <div class="muted small">
                {c.unit.name} · {t(`cstate.${c.state}` as Key)} · {fmt(c.lastSeenAt)}
              </div>
            </li>
          ))}
        </ul>
      </aside>
      <section class="case-detail-wrap">{selected ? <CaseView id={selected} changed={last?.case?.id === selected ? last.id : 0} onChange={() => void load()} /> : <p class="muted pad">{t('case.pick')}</p>}</section>
    </div>
  )
}

function CaseView(props: { id: number; changed: number; onChange: () => void }) {
  useLang()
  const me = useStore(app, (s) => s.me)
  const [c, setC] = useState<CaseDetail | null>(null)
  const [comment, setComment] = useState('')
  const [busy, setBusy] = useState(false)
  const canHandle = hasRole(me, 'admin', 'patrol', 'technician')

  useEffect(() => {
    cases.get(props.id).then(setC, (err: Error) => toast(err.message, 'error'))
  }, [props.id, props.changed])

  const act = async (fn: () => Promise<CaseDetail>) => {
    setBusy(true)
    try {
      setC(await fn())
      props.onChange()
    } catch (err) {
      toast(err instanceof ApiError ? err.message : String(err), 'error')
    } finally {
      setBusy(false)
    }
  }

  if (!c) return <p class="muted pad">{t('common.loading')}</p>
  const snapshots = c.attachments.filter((a) => a.kind === 'snapshot')
  return (
    <div class="case-detail" data-testid="case-detail" data-state={c.state}>
      <div class="row">
        <span class={`prio prio-${c.priority}`}>{t(`prio.${c.priority}` as Key)}</span>
        <h1>{c.title}</h1>
        <span class="muted">{c.number}</span>
        <span class="badge state" data-testid="case-state">{t(`cstate.${c.state}` as Key)}</span>
        {c.overdue.any && <span class="badge class-1">{t('case.overdue')}</span>}
      </div>
      <div class="case-facts">
        <div><span class="muted">{t('reg.kind')}</span>{t(`akind.${c.kind}` as Key)} · {t('case.occurrences', { n: c.occurrences })}</div>
        <div><span class="muted">{t('case.unit')}</span>{c.unit.name}</div>
        <div><span class="muted">{t('case.assignee')}</span>{c.assignee?.displayName ?? '—'}</div>
        <div><span class="muted">{t('case.ackBy')}</span><span class={c.overdue.acknowledge ? 'bad' : ''}>{fmt(c.deadlines.acknowledgeBy)}</span></div>
        <div><span class="muted">{t('case.resolveBy')}</span><span class={c.overdue.resolve ? 'bad' : ''}>{fmt(c.deadlines.resolveBy)}</span></div>
        <div>
          <span class="muted">{t('case.cameras')}</span>
          {c.cameras.length === 0 && '—'}
          {c.cameras.map((cam) => (
            <button key={cam.id} class="small ghost" onClick={() => { openCamera(cam.id); navigate('wall') }} title={t('case.openOnWall')}>
              ▶ {cam.name}
            </button>
          ))}
        </div>
      </div>
      {c.description && <p class="case-desc">{c.description}</p>}
      {snapshots.length > 0 && (
        <div class="snapshots">
          {snapshots.map((a) => (
            <figure key={a.id}>
              <img src={`/api/cases/${c.id}/attachments/${a.id}`} alt={t('case.snapshot')} data-testid="case-snapshot" />
              <figcaption class="muted small">{t('case.snapshot')} · {fmt(a.takenAt)}</figcaption>
            </figure>
          ))}
        </div>
      )}
      {canHandle && c.state !== 'archived' && (
        <div class="row actions" data-testid="case-actions">
          {c.allowedTransitions.map((to) => (
            <button key={to} class="primary" disabled={busy} onClick={() => void act(() => cases.transition(c.id, to))} data-to={to}>
              {t('case.to', { state: t(`cstate.${to}` as Key) })}
            </button>
          ))}
          <button
            class="danger"
            disabled={busy}
            onClick={() => {
              const reason = prompt(t('case.escalateReason'))
              if (reason?.trim()) void act(() => cases.escalate(c.id, reason.trim()))
            }}
          >
            ⇧ {t('case.escalate')}
          </button>
        </div>
      )}
      {c.state !== 'archived' && (
        <form
          class="row"
          onSubmit={(e) => {
            e.preventDefault()
            if (comment.trim()) void act(() => cases.comment(c.id, comment.trim())).then(() => setComment(''))
          }}
        >
          <input style={{ flex: 1 }} placeholder={t('case.comment')} value={comment} onInput={(e) => setComment(e.currentTarget.value)} maxLength={4000} name="comment" />
          <button type="submit" disabled={busy || !comment.trim()}>{t('case.send')}</button>
        </form>
      )}
      <h2>{t('case.timeline')}</h2>
      <ol class="timeline" data-testid="case-timeline">
        {[...c.timeline].reverse().map((e) => (
          <li key={e.id}>
            <span class="muted small">{fmt(e.at)}</span>
            <strong>{t(`tl.${e.type}` as Key)}</strong>
            <span>{e.actor}</span>
            <span class="muted small">{describe(e.detail)}</span>
          </li>
        ))}
      </ol>
    </div>
  )
}

function describe(d: Record<string, unknown>): string {
  const parts: string[] = []
  if (typeof d.from === 'string' && typeof d.to === 'string') parts.push(`${t(`cstate.${d.from}` as Key)} → ${t(`cstate.${d.to}` as Key)}`)
  for (const k of ['text', 'comment', 'reason']) if (typeof d[k] === 'string') parts.push(String(d[k]))
  return parts.join(' · ')
}
