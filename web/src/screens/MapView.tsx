import { useEffect, useMemo, useRef, useState } from 'preact/hooks'
import { ApiError, plans as plansApi, type Camera, type Plan, type PlanCorners, type Unit } from '../lib/api'
import { t, useLang, type Key } from '../lib/i18n'
import { navigate } from '../lib/router'
import { app, hasRole, openCamera, toast } from '../lib/state'
import { useStore } from '../lib/store'

/**
 * The map, offline: no tile server, no network. Two views:
 * - a unit's **plan** (平面图), an uploaded site or district plan image with georeferenced corners:
 *   the nearest plan of the selected unit or the units above it (in the user's scope); cameras are
 *   placed on it by linear interpolation of latitude and longitude between the corners, and the
 *   unit's cameras that fall outside it are listed aside;
 * - the plain **coordinate view**: cameras plotted by latitude and longitude (an equirectangular
 *   projection scaled by cos(latitude), plenty at district scale), used when there is no plan.
 * Both colour cameras by status (pushed live by the event stream) and open a camera on the wall on click.
 */
const W = 1000
const STATUS_COLOR: Record<Camera['status'], string> = { online: '#22c55e', degraded: '#f59e0b', offline: '#ef4444', unknown: '#94a3b8' }

interface View { x: number; y: number; w: number; h: number }

/** Wheel zoom and drag pan of an SVG viewBox over a w × h drawing. */
function usePanZoom(w: number, h: number) {
  const svgRef = useRef<SVGSVGElement>(null)
  const [view, setView] = useState<View>({ x: 0, y: 0, w, h })
  useEffect(() => setView({ x: 0, y: 0, w, h }), [w, h])
  const drag = useRef<{ px: number; py: number; view: View; moved: boolean } | null>(null)
  const [dragging, setDragging] = useState(false)
  // the element's size, to draw markers a fixed number of screen pixels across at any zoom
  const [box, setBox] = useState({ w: 0, h: 0 })
  useEffect(() => {
    const el = svgRef.current
    if (!el) return
    const fit = () => setBox({ w: el.clientWidth, h: el.clientHeight })
    fit()
    const ro = new ResizeObserver(fit)
    ro.observe(el)
    return () => ro.disconnect()
  }, [svgRef.current])
  const scale = box.w > 0 && box.h > 0 ? Math.min(box.w / view.w, box.h / view.h) : 0

  const toSvg = (clientX: number, clientY: number) => {
    const rect = svgRef.current!.getBoundingClientRect()
    // preserveAspectRatio meet: the drawing is centred and uniformly scaled
    const s = Math.min(rect.width / view.w, rect.height / view.h)
    const ox = (rect.width - view.w * s) / 2
    const oy = (rect.height - view.h * s) / 2
    return { x: view.x + (clientX - rect.left - ox) / s, y: view.y + (clientY - rect.top - oy) / s, s }
  }

  const handlers = {
    onWheel: (e: WheelEvent) => {
      e.preventDefault()
      const p = toSvg(e.clientX, e.clientY)
      const f = Math.exp(e.deltaY * 0.0015)
      const nw = Math.min(w * 2, Math.max(w / 60, view.w * f))
      const ratio = nw / view.w
      setView({ x: p.x - (p.x - view.x) * ratio, y: p.y - (p.y - view.y) * ratio, w: nw, h: view.h * ratio })
    },
    onPointerDown: (e: PointerEvent) => {
      drag.current = { px: e.clientX, py: e.clientY, view, moved: false }
    },
    onPointerMove: (e: PointerEvent) => {
      const d = drag.current
      if (!d) return
      const { s } = toSvg(e.clientX, e.clientY)
      const dx = (e.clientX - d.px) / s
      const dy = (e.clientY - d.py) / s
      if (Math.abs(dx) + Math.abs(dy) > 2 / s) {
        d.moved = true
        setDragging(true)
        setView({ ...d.view, x: d.view.x - dx, y: d.view.y - dy })
      }
    },
    onPointerUp: () => {
      setTimeout(() => (drag.current = null), 0)
      setDragging(false)
    },
    onPointerLeave: () => {
      drag.current = null
      setDragging(false)
    },
  }
  return {
    svgRef,
    view,
    dragging,
    handlers,
    reset: () => setView({ x: 0, y: 0, w, h }),
    moved: () => drag.current?.moved === true,
    /** drawing units per screen pixel (until the element is measured: a 1000-pixel-wide guess) */
    perPixel: scale > 0 ? 1 / scale : view.w / 1000,
  }
}

type Tip = { x: number; y: number; c: Camera } | null

function CameraMarker(props: { c: Camera; x: number; y: number; r: number; svg: SVGSVGElement | null; setTip: (t: Tip) => void; moved: () => boolean }) {
  const { c, x, y, r, svg, setTip } = props
  return (
    <circle
      cx={x}
      cy={y}
      r={r * (c.class === 1 ? 0.95 : 0.75)}
      fill={STATUS_COLOR[c.status]}
      stroke="#020617"
      stroke-width={r / 5}
      style={{ cursor: 'pointer' }}
      data-testid="map-camera"
      data-camera-id={c.id}
      data-status={c.status}
      onPointerEnter={(e) => {
        const rect = svg!.getBoundingClientRect()
        setTip({ x: e.clientX - rect.left, y: e.clientY - rect.top, c })
      }}
      onPointerLeave={() => setTip(null)}
      onClick={() => {
        if (props.moved()) return
        openCamera(c.id)
        navigate('wall')
      }}
    />
  )
}

function TipBox({ tip }: { tip: Tip }) {
  if (!tip) return null
  return (
    <div class="map-tip" style={{ left: `${tip.x + 14}px`, top: `${tip.y + 10}px` }}>
      <strong>{tip.c.name}</strong>
      <div class="muted small">
        {t(`status.${tip.c.status}` as Key)} · {t(`class.${tip.c.class}` as Key)} · {t(`kind.${tip.c.kind}` as Key)}
      </div>
      <div class="muted small">{tip.c.location.address}</div>
    </div>
  )
}

function Legend({ cameras }: { cameras: Camera[] }) {
  return (
    <div class="map-legend">
      {(['online', 'degraded', 'offline', 'unknown'] as const).map((s) => (
        <span key={s}>
          <span class={`dot ${s}`} /> {t(`status.${s}` as Key)} ({cameras.filter((c) => c.status === s).length})
        </span>
      ))}
    </div>
  )
}

const hasCoords = (c: Camera) => c.location.lat !== null && c.location.lon !== null

/** Where a camera falls on a plan, as fractions of its width and height (0..1 inside). */
export function planPosition(plan: Plan, lat: number, lon: number): { fx: number; fy: number } {
  const { nw, se } = plan.corners
  return { fx: (lon - nw.lon) / (se.lon - nw.lon), fy: (nw.lat - lat) / (nw.lat - se.lat) }
}
const inside = (p: { fx: number; fy: number }) => p.fx >= 0 && p.fx <= 1 && p.fy >= 0 && p.fy <= 1

export function MapScreen() {
  useLang()
  const me = useStore(app, (s) => s.me)
  const cameras = useStore(app, (s) => s.cameras)
  const units = useStore(app, (s) => s.units)
  const mayEdit = hasRole(me, 'admin', 'technician')
  const [plans, setPlans] = useState<Plan[] | null>(null)
  const [planError, setPlanError] = useState<string | null>(null)
  const loadPlans = () =>
    plansApi.list().then(
      (items) => {
        setPlans(items)
        setPlanError(null)
      },
      (err: unknown) => setPlanError(err instanceof Error ? err.message : String(err)),
    )
  useEffect(() => void loadPlans(), [])

  const sortedUnits = useMemo(() => [...units].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)), [units])
  const unitById = useMemo(() => new Map(units.map((u) => [u.id, u])), [units])
  const [unitId, setUnitId] = useState<number | null>(null)
  const selected = (unitId !== null ? unitById.get(unitId) : undefined) ?? (me?.unit ? unitById.get(me.unit.id) : undefined) ?? sortedUnits[0] ?? null

  // the nearest plan: the selected unit's own, else its parent's, and so on up to the user's scope
  const plan = useMemo(() => {
    if (!plans || !selected) return null
    const byUnit = new Map(plans.map((p) => [p.unitId, p]))
    for (let u: Unit | undefined = selected; u; u = u.parentId !== null ? unitById.get(u.parentId) : undefined) {
      const p = byUnit.get(u.id)
      if (p) return p
    }
    return null
  }, [plans, selected, unitById])
  const [prefer, setPrefer] = useState<'plan' | 'coords'>('plan')
  const [formOpen, setFormOpen] = useState(false)
  const mode = plan && prefer === 'plan' ? 'plan' : 'coords'
  const planUnit = plan ? unitById.get(plan.unitId) ?? null : null
  const placed = cameras.filter(hasCoords)

  const removePlan = async () => {
    if (!plan || !planUnit || !confirm(t('map.deleteConfirm', { unit: planUnit.name }))) return
    try {
      await plansApi.remove(plan.unitId)
      toast(t('map.deleted'))
      await loadPlans()
    } catch (err) {
      toast(err instanceof Error ? err.message : String(err), 'error')
    }
  }

  return (
    <div class="map-screen" data-testid="map" data-mode={mode}>
      <div class="toolbar">
        <strong>{t('map.title')}</strong>
        <label class="inline">
          {t('map.unit')}
          <select value={selected?.id ?? ''} onChange={(e) => setUnitId(Number(e.currentTarget.value))} data-testid="map-unit">
            {sortedUnits.map((u) => (
              <option key={u.id} value={u.id}>
                {'\u3000'.repeat(Math.max(0, u.path.split('/').filter(Boolean).length - (sortedUnits[0]?.path.split('/').filter(Boolean).length ?? 1)))}
                {u.name}
              </option>
            ))}
          </select>
        </label>
        {plan && (
          <span class="row" role="group">
            <button class={mode === 'plan' ? 'on small' : 'small'} onClick={() => setPrefer('plan')} data-testid="map-mode-plan">{t('map.view.plan')}</button>
            <button class={mode === 'coords' ? 'on small' : 'small'} onClick={() => setPrefer('coords')} data-testid="map-mode-coords">{t('map.view.coords')}</button>
          </span>
        )}
        <span class="muted small" data-testid="map-plan-note">
          {plan && planUnit ? (planUnit.id === selected?.id ? t('map.planOf', { unit: planUnit.name }) : t('map.planFrom', { unit: planUnit.name })) : plans && selected ? t('map.noPlan', { unit: selected.name }) : ''}
        </span>
        {planError && <span class="notice error small">{t('common.error', { msg: planError })}</span>}
        <span style={{ marginLeft: 'auto' }} class="row">
          {mayEdit && selected && (
            <button onClick={() => setFormOpen(!formOpen)} class={formOpen ? 'on' : ''} data-testid="plan-upload-open">
              {plans?.some((p) => p.unitId === selected.id) ? t('map.replace') : t('map.upload')}
            </button>
          )}
          {mayEdit && plan && mode === 'plan' && (
            <button class="danger" onClick={() => void removePlan()} data-testid="plan-delete">{t('map.deletePlan')}</button>
          )}
        </span>
      </div>
      <div class={`map-body${mode === 'plan' || formOpen ? ' with-side' : ''}`}>
        {mode === 'plan' && plan ? <PlanView plan={plan} cameras={cameras} unit={planUnit} unitById={unitById} /> : <CoordinateView cameras={cameras} placed={placed} units={units} />}
        {(mode === 'plan' || formOpen) && (
          <aside class="map-side">
            {formOpen && selected && (
              <PlanForm
                key={selected.id}
                unit={selected}
                current={plans?.find((p) => p.unitId === selected.id) ?? null}
                cameras={cameras.filter((c) => unitById.get(c.unitId)?.path.startsWith(selected.path))}
                onCancel={() => setFormOpen(false)}
                onDone={async () => {
                  setFormOpen(false)
                  setPrefer('plan')
                  await loadPlans()
                }}
              />
            )}
            {mode === 'plan' && plan && planUnit && <OutsideList plan={plan} cameras={cameras.filter((c) => unitById.get(c.unitId)?.path.startsWith(planUnit.path))} />}
          </aside>
        )}
      </div>
    </div>
  )
}

/** The unit's cameras the plan cannot show: outside its corners, or without coordinates. */
function OutsideList({ plan, cameras }: { plan: Plan; cameras: Camera[] }) {
  const outside = cameras.filter((c) => !hasCoords(c) || !inside(planPosition(plan, c.location.lat!, c.location.lon!)))
  return (
    <section class="map-outside" data-testid="map-outside">
      <h3>{t('map.outside', { n: outside.length })}</h3>
      {outside.length === 0 ? (
        <p class="muted small">{t('map.outsideNone')}</p>
      ) : (
        <ul>
          {outside.map((c) => (
            <li key={c.id} data-testid="map-outside-camera" data-camera-id={c.id} data-status={c.status} onClick={() => (openCamera(c.id), navigate('wall'))} title={c.location.address ?? ''}>
              <span class={`dot ${c.status}`} />
              <span>{c.name}</span>
              {!hasCoords(c) && <span class="muted small">（{t('map.noCoordsShort')}）</span>}
            </li>
          ))}
        </ul>
      )}
    </section>
  )
}

function PlanView({ plan, cameras, unit, unitById }: { plan: Plan; cameras: Camera[]; unit: Unit | null; unitById: Map<number, Unit> }) {
  const pz = usePanZoom(plan.width, plan.height)
  const [tip, setTip] = useState<Tip>(null)
  // markers keep their size on screen whatever the image's pixel size and the zoom
  const r = 8 * pz.perPixel
  // every camera the user sees that falls on the plan, whatever its unit
  const onPlan = cameras
    .filter(hasCoords)
    .map((c) => ({ c, p: planPosition(plan, c.location.lat!, c.location.lon!) }))
    .filter(({ p }) => inside(p))
  const ofUnit = unit ? cameras.filter((c) => unitById.get(c.unitId)?.path.startsWith(unit.path)) : cameras
  return (
    <div class="map-wrap plan">
      <svg ref={pz.svgRef} class={pz.dragging ? 'dragging' : ''} viewBox={`${pz.view.x} ${pz.view.y} ${pz.view.w} ${pz.view.h}`} {...pz.handlers} data-testid="map-plan">
        <image href={plan.imageUrl} x={0} y={0} width={plan.width} height={plan.height} preserveAspectRatio="none" data-testid="map-plan-image" />
        <rect x={0} y={0} width={plan.width} height={plan.height} fill="none" stroke="#38bdf8" stroke-width={1.5 * pz.perPixel} />
        {onPlan.map(({ c, p }) => (
          <CameraMarker key={c.id} c={c} x={p.fx * plan.width} y={p.fy * plan.height} r={r} svg={pz.svgRef.current} setTip={setTip} moved={pz.moved} />
        ))}
      </svg>
      <TipBox tip={tip} />
      <div class="map-topnote">
        <span class="muted small">{t('map.planHint')}</span>
      </div>
      <button class="map-reset small" onClick={pz.reset}>{t('map.reset')}</button>
      <Legend cameras={ofUnit} />
    </div>
  )
}

function CoordinateView({ cameras, placed, units }: { cameras: Camera[]; placed: Camera[]; units: Unit[] }) {
  const wrapRef = useRef<HTMLDivElement>(null)
  // the drawing's height follows the element's aspect, so the picture fills the screen
  const [H, setH] = useState(620)
  useEffect(() => {
    const el = wrapRef.current
    if (!el) return
    const fit = () => el.clientWidth > 0 && setH(Math.round((W * el.clientHeight) / el.clientWidth))
    fit()
    const ro = new ResizeObserver(fit)
    ro.observe(el)
    return () => ro.disconnect()
  }, [])
  const pz = usePanZoom(W, H)
  const { view } = pz
  const [tip, setTip] = useState<Tip>(null)

  // projection fitted to every camera and unit that has coordinates
  const proj = useMemo(() => {
    const pts = [...placed.map((c) => [c.location.lat!, c.location.lon!] as const), ...units.filter((u) => u.lat !== null && u.lon !== null).map((u) => [u.lat!, u.lon!] as const)]
    if (!pts.length) return null
    const lats = pts.map((p) => p[0])
    const lons = pts.map((p) => p[1])
    const lat0 = (Math.min(...lats) + Math.max(...lats)) / 2
    const k = Math.cos((lat0 * Math.PI) / 180)
    const minX = Math.min(...lons) * k
    const maxX = Math.max(...lons) * k
    const minY = -Math.max(...lats)
    const maxY = -Math.min(...lats)
    const span = Math.max(maxX - minX, (maxY - minY) * (W / H), 1e-4)
    const scale = (W * 0.88) / span
    const cx = (minX + maxX) / 2
    const cy = (minY + maxY) / 2
    return {
      x: (lon: number) => W / 2 + (lon * k - cx) * scale,
      y: (lat: number) => H / 2 + (-lat - cy) * scale,
      lon: (x: number) => ((x - W / 2) / scale + cx) / k,
      lat: (y: number) => -((y - H / 2) / scale + cy),
    }
  }, [placed.length, units, H])
  const r = view.w / 140

  // graticule: lines at a round step of degrees
  const grid = useMemo(() => {
    if (!proj) return []
    const lonA = proj.lon(view.x)
    const lonB = proj.lon(view.x + view.w)
    const raw = (lonB - lonA) / 6
    const step = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1].find((s) => s >= raw) ?? 1
    const lines: { x1: number; y1: number; x2: number; y2: number; label: string; lx: number; ly: number }[] = []
    for (let lon = Math.ceil(lonA / step) * step; lon <= lonB; lon += step) {
      const x = proj.x(lon)
      lines.push({ x1: x, y1: view.y, x2: x, y2: view.y + view.h, label: `${lon.toFixed(3)}°E`, lx: x + r * 0.4, ly: view.y + view.h - r * 0.8 })
    }
    const latTop = proj.lat(view.y)
    const latBottom = proj.lat(view.y + view.h)
    for (let lat = Math.ceil(latBottom / step) * step; lat <= latTop; lat += step) {
      const y = proj.y(lat)
      lines.push({ x1: view.x, y1: y, x2: view.x + view.w, y2: y, label: `${lat.toFixed(3)}°N`, lx: view.x + r * 0.6, ly: y - r * 0.4 })
    }
    return lines
  }, [proj, view])

  return (
    <div class="map-wrap" ref={wrapRef}>
      {proj && (
        <svg ref={pz.svgRef} class={pz.dragging ? 'dragging' : ''} viewBox={`${view.x} ${view.y} ${view.w} ${view.h}`} {...pz.handlers}>
          {grid.map((g, i) => (
            <g key={i}>
              <line x1={g.x1} y1={g.y1} x2={g.x2} y2={g.y2} stroke="#1b2a45" stroke-width={view.w / 1000} />
              <text x={g.lx} y={g.ly} fill="#41557a" font-size={r * 1.3}>{g.label}</text>
            </g>
          ))}
          {units.filter((u) => u.lat !== null && u.lon !== null && u.tier !== 'site').map((u) => (
            <g key={`u${u.id}`} class="map-unit">
              <rect x={proj.x(u.lon!) - r * 0.6} y={proj.y(u.lat!) - r * 0.6} width={r * 1.2} height={r * 1.2} fill="none" stroke={u.tier === 'street' ? '#f87171' : u.tier === 'police_station' ? '#60a5fa' : '#4ade80'} stroke-width={r / 4} />
              <text
                x={proj.x(u.lon!) + (u.tier === 'street' ? -r : r)}
                y={proj.y(u.lat!) + (u.tier === 'street' ? r * 3.2 : -r)}
                text-anchor={u.tier === 'street' ? 'end' : 'start'}
                fill={u.tier === 'street' ? '#fca5a5' : '#9fb2d4'}
                font-size={r * (u.tier === 'community' ? 1.2 : 1.5)}
                font-weight={u.tier === 'community' ? 400 : 700}
              >
                {u.name}
              </text>
            </g>
          ))}
          {placed.map((c) => (
            <CameraMarker key={c.id} c={c} x={proj.x(c.location.lon!)} y={proj.y(c.location.lat!)} r={r} svg={pz.svgRef.current} setTip={setTip} moved={pz.moved} />
          ))}
        </svg>
      )}
      <TipBox tip={tip} />
      <div class="map-topnote">
        <span class="muted small">{t('map.hint')}</span>
        {cameras.length > placed.length && <span class="notice warn small">{t('map.noCoords', { n: cameras.length - placed.length })}</span>}
      </div>
      <button class="map-reset small" onClick={pz.reset}>{t('map.reset')}</button>
      <Legend cameras={cameras} />
    </div>
  )
}

/** Problems from PUT (upload) or PATCH (corners) /api/plans in plain words. */
function plainPlanError(err: unknown, kind: 'upload' | 'corners' = 'upload'): string {
  const other = kind === 'upload' ? 'map.err.other' : 'map.err.otherCorners'
  if (!(err instanceof ApiError)) return t(other, { msg: String(err) })
  const first = err.errors[0]
  if (err.status === 415) return kind === 'upload' ? t('map.err.type') : t(other, { msg: err.message })
  if (err.status === 413) return t('map.err.size')
  if (err.status === 422) return t('map.err.damaged')
  if (err.status === 403) return t(kind === 'upload' ? 'map.err.forbidden' : 'map.err.forbiddenCorners')
  if (err.status === 404) return t(kind === 'upload' ? 'map.err.notFound' : 'map.err.planGone')
  if (err.status === 400 && first) {
    const lines = err.errors.map((e) => {
      // the upload names the corners in its query string, the correction in its body
      const m = /^(?:query|body)\.(nw|se)(Lat|Lon)$/.exec(e.field)
      if (!m) return e.field === 'body' && kind === 'upload' ? t('map.err.noFile') : `${e.field}: ${e.message}`
      if (m[1] === 'nw' && m[2] === 'Lat' && /north/.test(e.message)) return t('map.err.nwNorth')
      if (m[1] === 'nw' && m[2] === 'Lon' && /west/.test(e.message)) return t('map.err.nwWest')
      const corner = t(m[1] === 'nw' ? 'map.corner.nw' : 'map.corner.se')
      return t(m[2] === 'Lat' ? 'map.err.lat' : 'map.err.lon', { corner })
    })
    return lines.join('；')
  }
  return t(other, { msg: err.message })
}

/** Corners to start from: the current plan's, else the unit's cameras with a margin, else around the unit. */
function initialCorners(unit: Unit, current: Plan | null, cameras: Camera[]): Record<keyof PlanCorners, string> {
  const f = (n: number) => n.toFixed(6)
  if (current) return { nwLat: f(current.corners.nw.lat), nwLon: f(current.corners.nw.lon), seLat: f(current.corners.se.lat), seLon: f(current.corners.se.lon) }
  const pts = cameras.filter(hasCoords)
  if (pts.length) {
    const lats = pts.map((c) => c.location.lat!)
    const lons = pts.map((c) => c.location.lon!)
    const mLat = Math.max((Math.max(...lats) - Math.min(...lats)) * 0.15, 0.0005)
    const mLon = Math.max((Math.max(...lons) - Math.min(...lons)) * 0.15, 0.0005)
    return { nwLat: f(Math.max(...lats) + mLat), nwLon: f(Math.min(...lons) - mLon), seLat: f(Math.min(...lats) - mLat), seLon: f(Math.max(...lons) + mLon) }
  }
  if (unit.lat !== null && unit.lon !== null) return { nwLat: f(unit.lat + 0.002), nwLon: f(unit.lon - 0.003), seLat: f(unit.lat - 0.002), seLon: f(unit.lon + 0.003) }
  return { nwLat: '', nwLon: '', seLat: '', seLon: '' }
}

function PlanForm(props: { unit: Unit; current: Plan | null; cameras: Camera[]; onCancel: () => void; onDone: () => Promise<void> }) {
  const { unit, current } = props
  const [corners, setCorners] = useState(() => initialCorners(unit, current, props.cameras))
  const [file, setFile] = useState<File | null>(null)
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)

  const [saving, setSaving] = useState(false)
  const filled = () => !Object.values(corners).some((v) => v.trim() === '' || !Number.isFinite(Number(v)))
  const numbers = (): PlanCorners => ({ nwLat: Number(corners.nwLat), nwLon: Number(corners.nwLon), seLat: Number(corners.seLat), seLon: Number(corners.seLon) })

  const submit = async (e: Event) => {
    e.preventDefault()
    setError(null)
    if (!file) return setError(t('map.err.noFile'))
    if (!filled()) return setError(t('map.err.empty'))
    setBusy(true)
    try {
      await plansApi.upload(unit.id, file, numbers())
      toast(t('map.uploaded', { unit: unit.name }))
      await props.onDone()
    } catch (err) {
      setError(plainPlanError(err))
    } finally {
      setBusy(false)
    }
  }
  // the current plan's corners alone, without choosing a file: the image stays
  const saveCorners = async () => {
    setError(null)
    if (!filled()) return setError(t('map.err.empty'))
    setSaving(true)
    try {
      await plansApi.setCorners(unit.id, numbers())
      toast(t('map.cornersSaved', { unit: unit.name }))
      await props.onDone()
    } catch (err) {
      setError(plainPlanError(err, 'corners'))
    } finally {
      setSaving(false)
    }
  }
  const field = (key: keyof PlanCorners, label: Key) => (
    <label>
      {t(label)}
      <input name={key} inputMode="decimal" value={corners[key]} onInput={(e) => setCorners({ ...corners, [key]: e.currentTarget.value })} data-testid={`plan-${key}`} />
    </label>
  )
  return (
    <form class="plan-form" onSubmit={(e) => void submit(e)} data-testid="plan-form">
      <h3>{t('map.form.title', { unit: unit.name })}</h3>
      <p class="muted small">{t('map.form.hint')}</p>
      <label>
        {t('map.form.file')}
        <input type="file" accept="image/png,image/jpeg,image/webp" onChange={(e) => setFile(e.currentTarget.files?.[0] ?? null)} data-testid="plan-file" />
      </label>
      <fieldset>
        <legend>{t('map.form.nw')}</legend>
        {field('nwLat', 'map.form.lat')}
        {field('nwLon', 'map.form.lon')}
      </fieldset>
      <fieldset>
        <legend>{t('map.form.se')}</legend>
        {field('seLat', 'map.form.lat')}
        {field('seLon', 'map.form.lon')}
      </fieldset>
      {current && <p class="muted small">{t('map.form.cornersHint')}</p>}
      {error && <p class="notice error" role="alert" data-testid="plan-error">{error}</p>}
      <div class="row">
        <button type="submit" class="primary" disabled={busy || saving} data-testid="plan-submit">{busy ? t('map.form.busy') : t('map.form.submit')}</button>
        {current && (
          <button type="button" disabled={busy || saving} onClick={() => void saveCorners()} data-testid="plan-save-corners">
            {saving ? t('map.form.saving') : t('map.form.saveCorners')}
          </button>
        )}
        <button type="button" class="ghost" onClick={props.onCancel}>{t('map.form.cancel')}</button>
      </div>
    </form>
  )
}
