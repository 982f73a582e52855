import { useEffect, useRef, useState } from 'preact/hooks'
import { api, ApiError, CAMERA_KINDS, CAMERA_STATUSES, type Camera, type CameraClass, type CameraKind, type FieldProblem, type ImportReport, type Unit } from '../lib/api'
import { t, useLang, type Key } from '../lib/i18n'
import { navigate } from '../lib/router'
import { app, openCamera, refreshCameras, toast } from '../lib/state'
import { useStore } from '../lib/store'
import { StatusDot } from './CameraTree'

type Filters = { q: string; unit: string; class: string; kind: string; status: string }
const PAGE = 100

export function RegistryScreen() {
  useLang()
  const units = useStore(app, (s) => s.units)
  const unitName = new Map(units.map((u) => [u.id, u.name]))
  const [filters, setFilters] = useState<Filters>({ q: '', unit: '', class: '', kind: '', status: '' })
  const [rows, setRows] = useState<Camera[]>([])
  const [cursor, setCursor] = useState<string | null>(null)
  const [loading, setLoading] = useState(false)
  const [editing, setEditing] = useState<Camera | 'new' | null>(null)
  const [reload, setReload] = useState(0)

  const load = async (more: boolean) => {
    setLoading(true)
    try {
      const page = await api.cameraPage({ limit: PAGE, cursor: more ? cursor ?? undefined : undefined, q: filters.q.trim() || undefined, unit: filters.unit, class: filters.class, kind: filters.kind, status: filters.status })
      setRows(more ? [...rows, ...page.items] : page.items)
      setCursor(page.nextCursor)
    } catch (err) {
      toast(t('common.error', { msg: err instanceof Error ? err.message : String(err) }), 'error')
    } finally {
      setLoading(false)
    }
  }
  useEffect(() => {
    const timer = setTimeout(() => void load(false), 250)
    return () => clearTimeout(timer)
  }, [filters.q, filters.unit, filters.class, filters.kind, filters.status, reload])

  const set = (k: keyof Filters) => (e: Event) => setFilters({ ...filters, [k]: (e.currentTarget as HTMLInputElement).value })
  const exportUrl = `/api/cameras/export${filters.unit ? `?unit=${filters.unit}` : ''}`

  return (
    <div class="page" data-testid="registry">
      <div class="page-head">
        <h1>{t('reg.title')}</h1>
        <button class="primary" onClick={() => setEditing('new')} data-testid="reg-new">
          + {t('reg.new')}
        </button>
        <a href={exportUrl} download>
          <button type="button" data-testid="reg-export">↓ {t('reg.export')}</button>
        </a>
      </div>
      <ImportCard onDone={() => { setReload((n) => n + 1); void refreshCameras() }} />
      <div class="filters">
        <input type="search" placeholder={t('reg.search')} value={filters.q} onInput={set('q')} data-testid="reg-search" />
        <select value={filters.unit} onChange={set('unit')}>
          <option value="">{t('reg.allUnits')}</option>
          {units.map((u) => (
            <option key={u.id} value={u.id}>
              {'　'.repeat(Math.max(0, u.path.split('/').filter(Boolean).length - 1))}
              {u.name}
            </option>
          ))}
        </select>
        <select value={filters.class} onChange={set('class')}>
          <option value="">{t('reg.allClasses')}</option>
          {[1, 2, 3].map((c) => <option key={c} value={c}>{t(`class.${c}` as Key)}</option>)}
        </select>
        <select value={filters.kind} onChange={set('kind')}>
          <option value="">{t('reg.allKinds')}</option>
          {CAMERA_KINDS.map((k) => <option key={k} value={k}>{t(`kind.${k}` as Key)}</option>)}
        </select>
        <select value={filters.status} onChange={set('status')}>
          <option value="">{t('reg.allStatus')}</option>
          {CAMERA_STATUSES.map((k) => <option key={k} value={k}>{t(`status.${k}` as Key)}</option>)}
        </select>
        <span class="muted small">{t('reg.count', { n: rows.length })}</span>
      </div>
      <table class="grid" data-testid="reg-table">
        <thead>
          <tr>
            <th>{t('reg.status')}</th>
            <th>{t('reg.name')}</th>
            <th>{t('reg.unit')}</th>
            <th>{t('reg.class')}</th>
            <th>{t('reg.kind')}</th>
            <th>{t('reg.address')}</th>
            <th>{t('reg.mainUri')}</th>
            <th>{t('reg.tags')}</th>
            <th>{t('reg.actions')}</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((c) => (
            <tr key={c.id} data-testid="reg-row" data-camera-id={c.id}>
              <td><StatusDot status={c.status} /> {t(`status.${c.status}` as Key)}</td>
              <td>{c.name}{!c.enabled && <span class="badge"> off</span>}</td>
              <td>{unitName.get(c.unitId) ?? c.unitId}</td>
              <td><span class={`badge class-${c.class}`}>{t(`class.${c.class}` as Key)}</span></td>
              <td>{t(`kind.${c.kind}` as Key)}</td>
              <td class="muted">{c.location.address ?? ''}</td>
              <td class="muted small">{c.streams.main ? `${c.streams.main.codec ?? ''} ${c.streams.main.width ? `${c.streams.main.width}×${c.streams.main.height}` : ''}` : '—'}</td>
              <td class="small">{c.tags.join('；')}</td>
              <td class="row">
                <button class="small" onClick={() => setEditing(c)} data-testid="reg-edit">{t('reg.edit')}</button>
                <button class="small ghost" onClick={() => { openCamera(c.id); navigate('wall') }}>{t('reg.open')}</button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {cursor && (
        <button onClick={() => void load(true)} disabled={loading}>
          {t('reg.more')}
        </button>
      )}
      {editing && (
        <CameraForm
          camera={editing === 'new' ? null : editing}
          units={units}
          onClose={() => setEditing(null)}
          onSaved={() => {
            setEditing(null)
            setReload((n) => n + 1)
            void refreshCameras()
          }}
        />
      )}
    </div>
  )
}

function ImportCard(props: { onDone: () => void }) {
  useLang()
  const fileRef = useRef<HTMLInputElement>(null)
  const [dryRun, setDryRun] = useState(false)
  const [busy, setBusy] = useState(false)
  const [fileName, setFileName] = useState<string | null>(null)
  const [result, setResult] = useState<{ ok: true; report: ImportReport } | { ok: false; message: string; errors: FieldProblem[] } | null>(null)

  const run = async () => {
    const file = fileRef.current?.files?.[0]
    if (!file) return
    setFileName(file.name)
    setBusy(true)
    setResult(null)
    try {
      const report = await api.importCsv(file, dryRun)
      setResult({ ok: true, report })
      if (!dryRun) props.onDone()
    } catch (err) {
      if (err instanceof ApiError) {
        const report = err.body.report as ImportReport | undefined
        const errors = report?.errors ?? err.errors
        setResult({ ok: false, message: err.status === 422 && errors.length ? t('reg.rejected', { n: errors.length }) : err.message, errors })
      } else setResult({ ok: false, message: String(err), errors: [] })
    } finally {
      setBusy(false)
      if (fileRef.current) fileRef.current.value = ''
    }
  }

  return (
    <div class="card" data-testid="reg-import">
      <div class="row">
        <strong>{t('reg.import')}</strong>
        <label class="file-btn">
          <input ref={fileRef} type="file" accept=".csv,text/csv" onChange={() => void run()} data-testid="reg-import-file" />
          <span>↑ {t('reg.chooseFile')}</span>
        </label>
        {fileName && <span class="muted small">{fileName}</span>}
        <label class="check">
          <input type="checkbox" checked={dryRun} onChange={(e) => setDryRun(e.currentTarget.checked)} />
          {t('reg.dryRun')}
        </label>
        {busy && <span class="muted">{t('reg.importing')}</span>}
      </div>
      {result?.ok && (
        <p class="notice ok" data-testid="reg-import-ok">
          {t(result.report.dryRun ? 'reg.importChecked' : 'reg.importOk', { rows: result.report.rows, created: result.report.created, updated: result.report.updated, unchanged: result.report.unchanged })}
        </p>
      )}
      {result && !result.ok && (
        <div data-testid="reg-import-errors">
          <p class="notice error">{t('reg.importFailed', { msg: result.message })}</p>
          {result.errors.length > 0 && (
            <table class="grid errors">
              <thead>
                <tr>
                  <th>{t('reg.line')}</th>
                  <th>{t('reg.column')}</th>
                  <th>{t('reg.problem')}</th>
                </tr>
              </thead>
              <tbody>
                {result.errors.map((e, i) => (
                  <tr key={i} data-testid="reg-import-error" data-line={e.line ?? ''}>
                    <td>{e.line ?? '—'}</td>
                    <td>{e.field}</td>
                    <td>{e.message}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </div>
      )}
    </div>
  )
}

function CameraForm(props: { camera: Camera | null; units: Unit[]; onClose: () => void; onSaved: () => void }) {
  useLang()
  const c = props.camera
  const [f, setF] = useState({
    name: c?.name ?? '',
    unitId: String(c?.unitId ?? props.units[0]?.id ?? ''),
    class: String(c?.class ?? 2),
    kind: c?.kind ?? 'fixed',
    lat: c?.location.lat?.toString() ?? '',
    lon: c?.location.lon?.toString() ?? '',
    address: c?.location.address ?? '',
    onvifUrl: c?.onvifUrl ?? '',
    main: c?.streams.main?.uri ?? '',
    sub: c?.streams.sub?.uri ?? '',
    tags: c?.tags.join(';') ?? '',
    sharedUpward: c?.sharedUpward ?? false,
    enabled: c?.enabled ?? true,
    credUser: '',
    credPass: '',
  })
  const [errors, setErrors] = useState<FieldProblem[]>([])
  const [message, setMessage] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  const bind = (k: keyof typeof f) => ({
    value: String(f[k]),
    onInput: (e: Event) => setF({ ...f, [k]: (e.currentTarget as HTMLInputElement).value }),
  })
  const num = (s: string) => (s.trim() === '' ? null : Number(s))

  const save = async (e: Event) => {
    e.preventDefault()
    setBusy(true)
    setErrors([])
    setMessage(null)
    const stream = (uri: string, old: Camera['streams']['main'] | undefined) => {
      if (!uri.trim()) return null
      if (old && old.uri === uri.trim()) return old
      return { ...(old ?? {}), uri: uri.trim() }
    }
    const body: Record<string, unknown> = {
      name: f.name.trim(),
      unitId: Number(f.unitId),
      class: Number(f.class) as CameraClass,
      kind: f.kind as CameraKind,
      location: { lat: num(f.lat), lon: num(f.lon), address: f.address.trim() || null },
      onvifUrl: f.onvifUrl.trim() || null,
      tags: f.tags.split(/[;；,，]/).map((s) => s.trim()).filter(Boolean),
      sharedUpward: f.sharedUpward,
      enabled: f.enabled,
    }
    const main = stream(f.main, c?.streams.main ?? undefined)
    const sub = stream(f.sub, c?.streams.sub ?? undefined)
    if (!c || main !== c.streams.main || sub !== c.streams.sub) body.streams = { main, sub }
    if (f.credUser.trim()) body.credentials = { username: f.credUser.trim(), password: f.credPass }
    try {
      if (c) await api.updateCamera(c.id, body)
      else await api.createCamera(body)
      toast(t('reg.saved'))
      props.onSaved()
    } catch (err) {
      if (err instanceof ApiError) {
        setMessage(err.message)
        setErrors(err.errors)
      } else setMessage(String(err))
    } finally {
      setBusy(false)
    }
  }

  const remove = async () => {
    if (!c || !confirm(t('reg.confirmDelete', { name: c.name }))) return
    try {
      await api.deleteCamera(c.id)
      props.onSaved()
    } catch (err) {
      setMessage(err instanceof Error ? err.message : String(err))
    }
  }

  return (
    <div class="modal-back" onClick={props.onClose}>
      <form class="modal" style={{ width: 'min(860px, 94vw)' }} onClick={(e) => e.stopPropagation()} onSubmit={save} data-testid="camera-form">
        <h2>{c ? `${t('reg.edit')}：${c.name}` : t('reg.new')}</h2>
        <div class="form-grid">
          <label class="wide">{t('reg.name')}<input {...bind('name')} required maxLength={200} name="name" /></label>
          <label>
            {t('reg.unit')}
            <select {...bind('unitId')} onChange={(e) => setF({ ...f, unitId: e.currentTarget.value })} name="unitId">
              {props.units.map((u) => <option key={u.id} value={u.id}>{u.name} ({t(`tier.${u.tier}` as Key)})</option>)}
            </select>
          </label>
          <label>
            {t('reg.class')}
            <select {...bind('class')} onChange={(e) => setF({ ...f, class: e.currentTarget.value })} name="class">
              {[1, 2, 3].map((n) => <option key={n} value={n}>{t(`class.${n}` as Key)}</option>)}
            </select>
          </label>
          <label>
            {t('reg.kind')}
            <select {...bind('kind')} onChange={(e) => setF({ ...f, kind: e.currentTarget.value as CameraKind })} name="kind">
              {CAMERA_KINDS.map((k) => <option key={k} value={k}>{t(`kind.${k}` as Key)}</option>)}
            </select>
          </label>
          <label>{t('reg.lat')}<input {...bind('lat')} inputMode="decimal" name="lat" /></label>
          <label>{t('reg.lon')}<input {...bind('lon')} inputMode="decimal" name="lon" /></label>
          <label class="wide">{t('reg.address')}<input {...bind('address')} name="address" /></label>
          <label class="wide">{t('reg.onvif')}<input {...bind('onvifUrl')} placeholder="http://192.168.1.64/onvif/device_service" name="onvifUrl" /></label>
          <label class="wide">{t('reg.mainUri')}<input {...bind('main')} placeholder="rtsp://192.168.1.64:554/Streaming/Channels/101" name="main" /></label>
          <label class="wide">{t('reg.subUri')}<input {...bind('sub')} placeholder="rtsp://192.168.1.64:554/Streaming/Channels/102" name="sub" /></label>
          <label class="wide">{t('reg.tags')}<input {...bind('tags')} name="tags" /></label>
          <label>{t('reg.credUser')}<input {...bind('credUser')} autocomplete="off" name="credUser" placeholder={c?.hasCredentials ? t('reg.hasCred') : ''} /></label>
          <label>{t('reg.credPass')}<input {...bind('credPass')} type="password" autocomplete="new-password" name="credPass" placeholder={t('reg.credKeep')} /></label>
          <label class="check"><input type="checkbox" checked={f.sharedUpward} onChange={(e) => setF({ ...f, sharedUpward: e.currentTarget.checked })} />{t('reg.shared')}</label>
          <label class="check"><input type="checkbox" checked={f.enabled} onChange={(e) => setF({ ...f, enabled: e.currentTarget.checked })} />{t('reg.enabled')}</label>
        </div>
        {message && (
          <div class="notice error" data-testid="camera-form-error">
            {message}
            {errors.length > 0 && <ul>{errors.map((e, i) => <li key={i}>{e.field}: {e.message}</li>)}</ul>}
          </div>
        )}
        <div class="row">
          <button class="primary" type="submit" disabled={busy}>{t('reg.save')}</button>
          <button type="button" onClick={props.onClose}>{t('reg.cancel')}</button>
          {c && <button type="button" class="danger" style={{ marginLeft: 'auto' }} onClick={() => void remove()}>{t('reg.delete')}</button>}
        </div>
      </form>
    </div>
  )
}
