import { useMemo, useState } from 'preact/hooks'
import type { Camera, Unit } from '../lib/api'
import { t, useLang, type Key } from '../lib/i18n'
import { app, openCamera, toggleSelection } from '../lib/state'
import { useStore } from '../lib/store'

export const CAMERA_MIME = 'application/x-gw-camera'

interface Node {
  unit: Unit
  children: Node[]
  cameras: Camera[]
  total: number
  online: number
}

function matches(c: Camera, q: string): boolean {
  return [c.name, c.location.address ?? '', c.device.serial ?? '', ...c.tags].some((s) => s.toLowerCase().includes(q))
}

/** Builds the tier tree (street > station > community > site) of what the user may see. */
function buildTree(units: Unit[], cameras: Camera[], q: string): Node[] {
  const byId = new Map(units.map((u) => [u.id, u]))
  const nodes = new Map<number, Node>(units.map((u) => [u.id, { unit: u, children: [], cameras: [], total: 0, online: 0 }]))
  const roots: Node[] = []
  for (const u of units) {
    const node = nodes.get(u.id)!
    const parent = u.parentId !== null && byId.has(u.parentId) ? nodes.get(u.parentId) : undefined
    if (parent) parent.children.push(node)
    else roots.push(node)
  }
  for (const c of cameras) nodes.get(c.unitId)?.cameras.push(c)
  const prune = (node: Node, unitMatched: boolean): Node | null => {
    const selfMatch = unitMatched || (q !== '' && node.unit.name.toLowerCase().includes(q)) || node.unit.code.toLowerCase() === q
    const cams = q === '' || selfMatch ? node.cameras : node.cameras.filter((c) => matches(c, q))
    const children = node.children.map((n) => prune(n, selfMatch)).filter((n): n is Node => n !== null)
    if (q !== '' && !selfMatch && cams.length === 0 && children.length === 0) return null
    const total = cams.length + children.reduce((a, n) => a + n.total, 0)
    const online = cams.filter((c) => c.status === 'online').length + children.reduce((a, n) => a + n.online, 0)
    return { ...node, cameras: [...cams].sort((a, b) => a.name.localeCompare(b.name, 'zh')), children, total, online }
  }
  return roots.map((n) => prune(n, false)).filter((n): n is Node => n !== null)
}

export function StatusDot({ status }: { status: Camera['status'] }) {
  return <span class={`dot ${status}`} title={t(`status.${status}` as Key)} aria-label={t(`status.${status}` as Key)} />
}

export function CameraTree() {
  useLang()
  const units = useStore(app, (s) => s.units)
  const cameras = useStore(app, (s) => s.cameras)
  const loaded = useStore(app, (s) => s.camerasLoaded)
  const selection = useStore(app, (s) => s.selection)
  const tiles = useStore(app, (s) => s.tiles)
  const [query, setQuery] = useState('')
  // Streets and stations start open, communities and sites closed (a root always opens); a click flips it.
  const [flipped, setFlipped] = useState<Set<number>>(() => new Set())
  const q = query.trim().toLowerCase()
  const tree = useMemo(() => buildTree(units, cameras, q), [units, cameras, q])
  const onWall = new Set(tiles.filter((id): id is number => id !== null))

  const toggle = (id: number) => {
    const next = new Set(flipped)
    if (next.has(id)) next.delete(id)
    else next.add(id)
    setFlipped(next)
  }

  const renderNode = (node: Node, depth: number) => {
    const openByDefault = depth === 0 || node.unit.tier === 'street' || node.unit.tier === 'police_station'
    const open = q !== '' || openByDefault !== flipped.has(node.unit.id)
    return (
      <li key={`u${node.unit.id}`} class="tree-node">
        <div class={`tree-unit tier-${node.unit.tier}`} style={{ paddingLeft: `${depth * 14 + 4}px` }} onClick={() => toggle(node.unit.id)} data-testid="tree-unit" data-unit-id={node.unit.id} data-tier={node.unit.tier}>
          <span class="caret">{open ? '▾' : '▸'}</span>
          <span class="tier-tag">{t(`tier.${node.unit.tier}` as Key)}</span>
          <span class="unit-name">{node.unit.name}</span>
          <span class="count" title={t('tree.count', { online: node.online, total: node.total })} data-testid="unit-count">
            <b>{node.online}</b>/{node.total}
          </span>
        </div>
        {open && (
          <ul>
            {node.cameras.map((c) => (
              <li
                key={`c${c.id}`}
                class={`tree-camera${onWall.has(c.id) ? ' on-wall' : ''}`}
                style={{ paddingLeft: `${(depth + 1) * 14 + 4}px` }}
                draggable
                onDragStart={(e) => {
                  e.dataTransfer!.setData(CAMERA_MIME, String(c.id))
                  e.dataTransfer!.setData('text/plain', String(c.id))
                  e.dataTransfer!.effectAllowed = 'copy'
                }}
                onDblClick={() => openCamera(c.id)}
                title={`${c.name}\n${c.location.address ?? ''}\n${t('tree.dragHint')}`}
                data-testid="tree-camera"
                data-camera-id={c.id}
              >
                <input type="checkbox" checked={selection.includes(c.id)} onClick={(e) => e.stopPropagation()} onChange={() => toggleSelection(c.id)} aria-label={c.name} />
                <StatusDot status={c.status} />
                <span class="cam-name">{c.name}</span>
                {c.sharedUpward && <span class="badge shared" title={t('tree.shared')}>共</span>}
                <span class={`badge class-${c.class}`}>{t(`class.${c.class}` as Key)}</span>
                <span class="kind">{t(`kind.${c.kind}` as Key)}</span>
              </li>
            ))}
            {node.children.map((n) => renderNode(n, depth + 1))}
          </ul>
        )}
      </li>
    )
  }

  return (
    <section class="tree" data-testid="camera-tree">
      <div class="panel-head">
        <h2>{t('tree.title')}</h2>
        <span class="muted small">{t('tree.count', { online: cameras.filter((c) => c.status === 'online').length, total: cameras.length })}</span>
      </div>
      <input class="search" type="search" placeholder={t('tree.search')} value={query} onInput={(e) => setQuery(e.currentTarget.value)} data-testid="tree-search" />
      {selection.length > 0 && (
        <div class="selection-bar">
          <span>{t('tree.selected', { n: selection.length })}</span>
          <button class="ghost small" onClick={() => app.set({ selection: [] })}>
            {t('tree.clearSelection')}
          </button>
        </div>
      )}
      <div class="tree-scroll">
        {!loaded ? <p class="muted pad">{t('tree.loading')}</p> : tree.length === 0 ? <p class="muted pad">{t('tree.empty')}</p> : <ul class="tree-root">{tree.map((n) => renderNode(n, 0))}</ul>}
      </div>
    </section>
  )
}
