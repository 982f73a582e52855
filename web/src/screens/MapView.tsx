import { useEffect, useMemo, useRef, useState } from 'preact/hooks'
import type { Camera } from '../lib/api'
import { t, useLang, type Key } from '../lib/i18n'
import { navigate } from '../lib/router'
import { app, openCamera } from '../lib/state'
import { useStore } from '../lib/store'

/**
 * Offline coordinate view: cameras plotted by latitude and longitude (an equirectangular
 * projection scaled by cos(latitude), plenty at district scale), coloured by status. No tile
 * server, no network: the picture is drawn from the registry alone.
 */
const W = 1000
const STATUS_COLOR: Record<Camera['status'], string> = { online: '#22c55e', degraded: '#f59e0b', offline: '#ef4444', unknown: '#94a3b8' }

interface View { x: number; y: number; w: number; h: number }

export function MapScreen() {
  useLang()
  const cameras = useStore(app, (s) => s.cameras)
  const units = useStore(app, (s) => s.units)
  const placed = cameras.filter((c) => c.location.lat !== null && c.location.lon !== null)
  const svgRef = useRef<SVGSVGElement>(null)
  const [tip, setTip] = useState<{ x: number; y: number; c: Camera } | null>(null)
  const drag = useRef<{ px: number; py: number; view: View; moved: boolean } | null>(null)
  const [dragging, setDragging] = useState(false)
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

  const [view, setView] = useState<View>({ x: 0, y: 0, w: W, h: H })
  useEffect(() => setView({ x: 0, y: 0, w: W, h: H }), [H])
  const r = view.w / 140

  const toSvg = (clientX: number, clientY: number) => {
    const rect = svgRef.current!.getBoundingClientRect()
    // preserveAspectRatio meet: the drawing is centred and uniformly scaled
    const s = Math.min(rect.width / view.w, rect.height / view.h)
    const ox = (rect.width - view.w * s) / 2
    const oy = (rect.height - view.h * s) / 2
    return { x: view.x + (clientX - rect.left - ox) / s, y: view.y + (clientY - rect.top - oy) / s, s }
  }

  const onWheel = (e: WheelEvent) => {
    e.preventDefault()
    const p = toSvg(e.clientX, e.clientY)
    const f = Math.exp(e.deltaY * 0.0015)
    const w = Math.min(W * 2, Math.max(W / 60, view.w * f))
    const ratio = w / view.w
    setView({ x: p.x - (p.x - view.x) * ratio, y: p.y - (p.y - view.y) * ratio, w, h: view.h * ratio })
  }

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
    <div class="map-screen" data-testid="map">
      <div class="toolbar">
        <strong>{t('map.title')}</strong>
        <span class="muted small">{t('map.hint')}</span>
        {cameras.length > placed.length && <span class="notice warn small">{t('map.noCoords', { n: cameras.length - placed.length })}</span>}
        <button onClick={() => setView({ x: 0, y: 0, w: W, h: H })} style={{ marginLeft: 'auto' }}>{t('map.reset')}</button>
      </div>
      <div class="map-wrap" ref={wrapRef}>
        {proj && (
          <svg
            ref={svgRef}
            class={dragging ? 'dragging' : ''}
            viewBox={`${view.x} ${view.y} ${view.w} ${view.h}`}
            onWheel={onWheel}
            onPointerDown={(e) => {
              drag.current = { px: e.clientX, py: e.clientY, view, moved: false }
            }}
            onPointerMove={(e) => {
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
            }}
            onPointerUp={() => {
              setTimeout(() => (drag.current = null), 0)
              setDragging(false)
            }}
            onPointerLeave={() => {
              drag.current = null
              setDragging(false)
            }}
          >
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
              <circle
                key={c.id}
                cx={proj.x(c.location.lon!)}
                cy={proj.y(c.location.lat!)}
                r={r * (c.class === 1 ? 0.95 : 0.75)}
                fill={STATUS_COLOR[c.status]}
                stroke="#020617"
                stroke-width={r / 5}
                style={{ cursor: 'pointer' }}
                data-testid="map-camera"
                data-camera-id={c.id}
                data-status={c.status}
                onPointerEnter={(e) => {
                  const rect = svgRef.current!.getBoundingClientRect()
                  setTip({ x: e.clientX - rect.left, y: e.clientY - rect.top, c })
                }}
                onPointerLeave={() => setTip(null)}
                onClick={() => {
                  if (drag.current?.moved) return
                  openCamera(c.id)
                  navigate('wall')
                }}
              />
            ))}
          </svg>
        )}
        {tip && (
          <div class="map-tip" style={{ left: `${tip.x + 14}px`, top: `${tip.y + 10}px` }}>
            <strong>{tip.c.name}</strong>
            <div class="muted small">
              {t(`status.${tip.c.status}` as Key)} · {t(`class.${tip.c.class}` as Key)} · {t(`kind.${tip.c.kind}` as Key)}
            </div>
            <div class="muted small">{tip.c.location.address}</div>
          </div>
        )}
        <div class="map-legend">
          {(['online', 'degraded', 'offline', 'unknown'] as const).map((s) => (
            <span key={s}>
              <span class={`dot ${s}`} /> {t(`status.${s}` as Key)} ({cameras.filter((c) => c.status === s).length})
            </span>
          ))}
        </div>
      </div>
    </div>
  )
}
