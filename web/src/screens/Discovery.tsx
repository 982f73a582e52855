import { useEffect, useState } from 'preact/hooks'
import { ApiError, CAMERA_KINDS, discovery, type AdoptBody, type Candidate, type CameraClass, type CameraKind, type DiscoveryJob } from '../lib/api'
import { t, useLang, type Key } from '../lib/i18n'
import { app, refreshCameras, toast } from '../lib/state'
import { useStore } from '../lib/store'

/** Device errors in plain words (problem codes from the discovery feature). */
function plain(err: unknown): string {
  if (!(err instanceof ApiError)) return String(err)
  const code = String(err.body.code ?? '')
  const known: Record<string, Key> = {
    camera_auth_failed: 'disc.err.auth',
    camera_unreachable: 'disc.err.unreachable',
    camera_timeout: 'disc.err.timeout',
    camera_bad_reply: 'disc.err.badReply',
    camera_not_supported: 'disc.err.notSupported',
    camera_fault: 'disc.err.fault',
    conflict: 'disc.err.conflict',
  }
  const key = known[code]
  return key ? `${t(key)}（${err.message}）` : err.message
}

export function DiscoveryScreen() {
  useLang()
  const [multicast, setMulticast] = useState(false)
  const [ranges, setRanges] = useState('')
  const [hosts, setHosts] = useState('')
  const [job, setJob] = useState<DiscoveryJob | null>(null)
  const [error, setError] = useState<string | null>(null)
  const [list, setList] = useState<Candidate[]>([])
  const [adopting, setAdopting] = useState<Candidate | 'address' | null>(null)

  const loadCandidates = () => discovery.candidates().then(setList, (err: unknown) => setError(plain(err)))
  useEffect(() => void loadCandidates(), [])

  const scan = async (e: Event) => {
    e.preventDefault()
    setError(null)
    try {
      const body = {
        multicast,
        ranges: ranges.split(/[\s,，;；]+/).filter(Boolean),
        hosts: hosts
          .split(/[\s,，;；]+/)
          .filter(Boolean)
          .map((h) => {
            const [host, port] = h.split(':')
            return port ? { host: host!, port: Number(port) } : { host: host! }
          }),
      }
      const { id } = await discovery.scan(body)
      let current = await discovery.job(id)
      setJob(current)
      while (current.status === 'running') {
        await new Promise((r) => setTimeout(r, 1000))
        current = await discovery.job(id)
        setJob(current)
      }
      await loadCandidates()
    } catch (err) {
      setError(plain(err))
    }
  }

  const progress = job?.progress ?? {}
  return (
    <div class="page" data-testid="discovery">
      <div class="page-head">
        <h1>{t('disc.title')}</h1>
        <button onClick={() => setAdopting('address')}>+ {t('disc.byAddress')}</button>
      </div>
      <form class="card" onSubmit={scan} data-testid="disc-scan">
        <div class="form-grid">
          <label class="check"><input type="checkbox" checked={multicast} onChange={(e) => setMulticast(e.currentTarget.checked)} />{t('disc.multicast')}</label>
          <label>{t('disc.ranges')}<input value={ranges} onInput={(e) => setRanges(e.currentTarget.value)} placeholder="192.168.1.0/24" name="ranges" /></label>
          <label>{t('disc.hosts')}<input value={hosts} onInput={(e) => setHosts(e.currentTarget.value)} placeholder="192.168.1.64 192.168.1.65:8080" name="hosts" /></label>
        </div>
        <div class="row">
          <button class="primary" type="submit" disabled={job?.status === 'running'}>{job?.status === 'running' ? t('disc.scanning') : t('disc.scan')}</button>
          {job && (
            <span class="muted small" data-testid="disc-progress">
              {t(`disc.status.${job.status}` as Key)} ·{' '}
              {Object.entries(progress).filter(([, v]) => typeof v === 'number').map(([k, v]) => `${k} ${v}`).join(' · ')}
              {job.error ? ` · ${job.error}` : ''}
            </span>
          )}
        </div>
        {error && <p class="notice error" data-testid="disc-error">{error}</p>}
      </form>
      <table class="grid" data-testid="disc-candidates">
        <thead>
          <tr>
            <th>{t('disc.address')}</th>
            <th>{t('reg.name')}</th>
            <th>{t('disc.hardware')}</th>
            <th>{t('disc.location')}</th>
            <th>{t('disc.source')}</th>
            <th>{t('disc.state')}</th>
            <th>{t('disc.lastSeen')}</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {list.length === 0 && (
            <tr><td colSpan={8} class="muted">{t('disc.none')}</td></tr>
          )}
          {list.map((c) => (
            <tr key={c.id} data-testid="disc-candidate">
              <td>{c.address}</td>
              <td>{c.name ?? '—'}</td>
              <td>{c.hardware ?? '—'}</td>
              <td>{c.location ?? '—'}</td>
              <td class="small">{c.source}</td>
              <td>{['new', 'registered', 'moved'].includes(c.state) ? t(`disc.cstate.${c.state}` as Key) : c.state}{c.camera ? ` · ${c.camera.name}` : ''}</td>
              <td class="small muted">{new Date(c.lastSeen).toLocaleString()}</td>
              <td>{c.state !== 'registered' && <button class="small primary" onClick={() => setAdopting(c)}>{t('disc.adopt')}</button>}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {adopting && (
        <AdoptForm
          candidate={adopting === 'address' ? null : adopting}
          onClose={() => setAdopting(null)}
          onDone={() => {
            setAdopting(null)
            void loadCandidates()
            void refreshCameras()
          }}
        />
      )}
    </div>
  )
}

function AdoptForm(props: { candidate: Candidate | null; onClose: () => void; onDone: () => void }) {
  useLang()
  const units = useStore(app, (s) => s.units)
  const c = props.candidate
  const [f, setF] = useState({ host: '', port: '', unitId: String(units[0]?.id ?? ''), name: c?.name ?? '', class: '2', kind: 'fixed', username: '', password: '', sharedUpward: false })
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const bind = (k: keyof typeof f) => ({ value: String(f[k]), onInput: (e: Event) => setF({ ...f, [k]: (e.currentTarget as HTMLInputElement).value }) })

  const submit = async (e: Event) => {
    e.preventDefault()
    setBusy(true)
    setError(null)
    const body: AdoptBody = {
      unitId: Number(f.unitId),
      ...(f.name.trim() ? { name: f.name.trim() } : {}),
      class: Number(f.class) as CameraClass,
      kind: f.kind as CameraKind,
      credentials: { username: f.username.trim(), password: f.password },
      sharedUpward: f.sharedUpward,
    }
    try {
      const result = c ? await discovery.adopt(c.id, body) : await discovery.adoptAddress({ ...body, host: f.host.trim(), ...(f.port ? { port: Number(f.port) } : {}) })
      toast(`${t('disc.adopted', { name: result.camera.name })}${result.warnings.length ? ` · ${result.warnings.join('；')}` : ''}`)
      props.onDone()
    } catch (err) {
      setError(plain(err))
    } finally {
      setBusy(false)
    }
  }

  return (
    <div class="modal-back" onClick={props.onClose}>
      <form class="modal" style={{ width: 'min(720px, 94vw)' }} onClick={(e) => e.stopPropagation()} onSubmit={submit} data-testid="adopt-form">
        <h2>{t('disc.adopt')}{c ? `：${c.address}` : ''}</h2>
        <div class="form-grid">
          {!c && <label>{t('disc.host')}<input {...bind('host')} required name="host" /></label>}
          {!c && <label>{t('disc.port')}<input {...bind('port')} inputMode="numeric" placeholder="80" name="port" /></label>}
          <label>
            {t('reg.unit')}
            <select value={f.unitId} onChange={(e) => setF({ ...f, unitId: e.currentTarget.value })} name="unitId">
              {units.map((u) => <option key={u.id} value={u.id}>{u.name}</option>)}
            </select>
          </label>
          <label>{t('reg.name')}<input {...bind('name')} name="name" /></label>
          <label>
            {t('reg.class')}
            <select value={f.class} onChange={(e) => setF({ ...f, class: e.currentTarget.value })}>
              {[1, 2, 3].map((n) => <option key={n} value={n}>{t(`class.${n}` as Key)}</option>)}
            </select>
          </label>
          <label>
            {t('reg.kind')}
            <select value={f.kind} onChange={(e) => setF({ ...f, kind: e.currentTarget.value })}>
              {CAMERA_KINDS.map((k) => <option key={k} value={k}>{t(`kind.${k}` as Key)}</option>)}
            </select>
          </label>
          <label>{t('reg.credUser')}<input {...bind('username')} required autocomplete="off" name="username" /></label>
          <label>{t('reg.credPass')}<input {...bind('password')} type="password" autocomplete="new-password" name="password" /></label>
          <label class="check"><input type="checkbox" checked={f.sharedUpward} onChange={(e) => setF({ ...f, sharedUpward: e.currentTarget.checked })} />{t('reg.shared')}</label>
        </div>
        {error && <p class="notice error" data-testid="adopt-error">{error}</p>}
        <div class="row">
          <button class="primary" type="submit" disabled={busy}>{busy ? t('disc.adopting') : t('disc.adopt')}</button>
          <button type="button" onClick={props.onClose}>{t('reg.cancel')}</button>
        </div>
      </form>
    </div>
  )
}
