import { useEffect, useState } from 'preact/hooks'
import { ApiError, health, type HealthProblem, type HealthSummary, type RateCell } from '../lib/api'
import { t, useLang, type Key, type Lang } from '../lib/i18n'
import { navigate } from '../lib/router'
import { app, hasRole, openCamera, refreshCameras, toast } from '../lib/state'
import { useStore } from '../lib/store'
import { StatusDot } from './CameraTree'

/** Reason codes from the health checks, in plain words. */
const REASONS: Record<string, [zh: string, en: string]> = {
  no_route: ['网络不可达', 'no route to the camera'],
  refused: ['连接被拒绝', 'connection refused'],
  timeout: ['连接超时', 'timed out'],
  protocol: ['协议错误', 'protocol error'],
  no_endpoint: ['未配置地址', 'no address configured'],
  address_not_allowed: ['地址不在允许的摄像机网段', 'address not allowed (cameras.allowedCidrs)'],
  live_failed: ['实时流中断', 'live stream failed'],
  auth_failed: ['用户名或密码错误', 'wrong username or password'],
  clock_drift: ['设备时钟偏差过大', 'camera clock drift'],
  wrong_codec: ['编码与登记不符', 'codec differs from the registry'],
  wrong_resolution: ['分辨率与登记不符', 'resolution differs from the registry'],
  wrong_fps: ['帧率与登记不符', 'frame rate differs from the registry'],
  covered: ['画面被遮挡', 'picture covered'],
  frozen: ['画面冻结', 'picture frozen'],
  bad_snapshot: ['抓图无效', 'invalid snapshot'],
  snapshot_failed: ['抓图失败', 'snapshot failed'],
  onvif_unreachable: ['ONVIF 不可达', 'ONVIF unreachable'],
  onvif_error: ['ONVIF 错误', 'ONVIF error'],
  rtsp_error: ['RTSP 错误', 'RTSP error'],
  events_failed: ['事件订阅失败', 'event subscription failing'],
}
export const reasonText = (code: string, lang: Lang) => REASONS[code]?.[lang === 'zh' ? 0 : 1] ?? code
const pct = (r: number | null) => (r === null ? '—' : `${(r * 100).toFixed(1)}%`)

function RateBar({ cell }: { cell: RateCell }) {
  const total = Math.max(1, cell.total)
  return (
    <div class="ratebar" title={`${cell.online}/${cell.degraded}/${cell.offline}/${cell.unknown}`}>
      <span class="seg-online" style={{ width: `${(cell.online / total) * 100}%` }} />
      <span class="seg-degraded" style={{ width: `${(cell.degraded / total) * 100}%` }} />
      <span class="seg-offline" style={{ width: `${(cell.offline / total) * 100}%` }} />
    </div>
  )
}

export function HealthScreen() {
  const lang = useLang()
  const me = useStore(app, (s) => s.me)
  const units = useStore(app, (s) => s.units)
  const canCheck = hasRole(me, 'admin', 'technician')
  const [summary, setSummary] = useState<HealthSummary | null>(null)
  const [perUnit, setPerUnit] = useState<{ id: number; name: string; tier: string; depth: number; cell: RateCell }[]>([])
  const [problems, setProblems] = useState<HealthProblem[] | null>(null)
  const [busy, setBusy] = useState(false)
  const [trend, setTrend] = useState<HealthSummary['buckets']>([])

  const load = async () => {
    try {
      const [s, p, h] = await Promise.all([health.summary(), health.problems(), health.summary(undefined, 'hour')])
      setSummary(s)
      setProblems(p.items)
      setTrend(h.buckets ?? [])
      // per unit, down to communities (sites are counted in their community)
      const shown = units.filter((u) => u.tier !== 'site').slice(0, 40)
      const cells = await Promise.all(shown.map((u) => health.summary(u.id).then((r) => r.now)))
      const top = Math.min(...shown.map((u) => u.path.split('/').length))
      setPerUnit(shown.map((u, i) => ({ id: u.id, name: u.name, tier: u.tier, depth: u.path.split('/').length - top, cell: cells[i]! })))
    } catch (err) {
      toast(err instanceof Error ? err.message : String(err), 'error')
    }
  }
  useEffect(() => void load(), [units.length])

  const checkAll = async () => {
    setBusy(true)
    try {
      const r = await health.checkUnit()
      toast(t('health.checked', { n: r.checked, online: r.online, degraded: r.degraded, offline: r.offline }))
      await Promise.all([load(), refreshCameras()])
    } catch (err) {
      toast(err instanceof ApiError ? err.message : String(err), 'error')
    } finally {
      setBusy(false)
    }
  }
  const checkOne = async (id: number) => {
    try {
      await health.checkCamera(id)
      await Promise.all([load(), refreshCameras()])
    } catch (err) {
      toast(err instanceof ApiError ? err.message : String(err), 'error')
    }
  }

  const now = summary?.now
  return (
    <div class="page" data-testid="health">
      <div class="page-head">
        <h1>{t('health.title')}</h1>
        {canCheck && (
          <button class="primary" onClick={() => void checkAll()} disabled={busy} data-testid="health-check-all">
            {t('health.checkUnit')}
          </button>
        )}
        <button onClick={() => void load()}>{t('common.refresh')}</button>
      </div>
      {now && (
        <div class="health-top">
          <div class="card big-rate" data-testid="health-rate">
            <span class="muted">{t('health.rate')} · {summary?.unit?.name ?? t('health.scope')}</span>
            <span class="rate-value">{pct(now.rate)}</span>
            <RateBar cell={now} />
            <div class="row small">
              <span><span class="dot online" /> {t('status.online')} {now.online}</span>
              <span><span class="dot degraded" /> {t('status.degraded')} {now.degraded}</span>
              <span><span class="dot offline" /> {t('status.offline')} {now.offline}</span>
              <span><span class="dot unknown" /> {t('status.unknown')} {now.unknown}</span>
            </div>
          </div>
          <div class="card">
            <strong>{t('health.byClass')}</strong>
            {Object.entries(now.byClass).map(([k, cell]) => (
              <div class="rate-row" key={k}>
                <span>{t(`class.${k}` as Key)}</span>
                <RateBar cell={cell} />
                <span class="num">{pct(cell.rate)}</span>
              </div>
            ))}
            <strong>{t('health.byKind')}</strong>
            {Object.entries(now.byKind).map(([k, cell]) => (
              <div class="rate-row" key={k}>
                <span>{t(`kind.${k}` as Key)}</span>
                <RateBar cell={cell} />
                <span class="num">{pct(cell.rate)}</span>
              </div>
            ))}
          </div>
          <div class="card">
            <strong>{t('health.trend')}</strong>
            <Trend buckets={trend ?? []} />
          </div>
        </div>
      )}
      <div class="health-grid">
        <div class="card">
          <strong>{t('health.units')}</strong>
          <table class="grid" data-testid="health-units">
            <tbody>
              {perUnit.map((u) => (
                <tr key={u.id}>
                  <td style={{ paddingLeft: `${0.5 + u.depth * 1.1}rem` }}>
                    <span class="tier-tag">{t(`tier.${u.tier}` as Key)}</span> {u.name}
                  </td>
                  <td style={{ width: '40%' }}><RateBar cell={u.cell} /></td>
                  <td class="num">{pct(u.cell.rate)}</td>
                  <td class="num muted small">{u.cell.online + u.cell.degraded}/{u.cell.total}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <div class="card">
          <strong>{t('health.problems')}</strong>
          {problems && problems.length === 0 && <p class="muted">{t('health.noProblems')}</p>}
          <table class="grid" data-testid="health-problems">
            <tbody>
              {(problems ?? []).map((p) => (
                <tr key={p.cameraId}>
                  <td><StatusDot status={p.status} /> {t(`status.${p.status}` as Key)}</td>
                  <td>
                    <a href="/wall" onClick={(e) => { e.preventDefault(); openCamera(p.cameraId); navigate('wall') }}>{p.name}</a>
                  </td>
                  <td>{p.reasons.map((r) => reasonText(r, lang)).join('；')}</td>
                  <td class="muted small">{p.since ? `${t('health.since')} ${new Date(p.since).toLocaleString()}` : ''}</td>
                  <td>{canCheck && <button class="small" onClick={() => void checkOne(p.cameraId)}>{t('health.checkNow')}</button>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </div>
    </div>
  )
}

function Trend({ buckets }: { buckets: NonNullable<HealthSummary['buckets']> }) {
  const w = 360
  const h = 90
  if (!buckets.length) return <p class="muted small">—</p>
  const bw = w / buckets.length
  return (
    <svg viewBox={`0 0 ${w} ${h + 14}`} class="trend">
      {buckets.map((b, i) => {
        const v = b.rate ?? 0
        return <rect key={i} x={i * bw + 1} y={h - v * h} width={bw - 2} height={Math.max(1, v * h)} fill={b.rate === null ? '#334155' : v >= 0.95 ? '#22c55e' : v >= 0.8 ? '#f59e0b' : '#ef4444'} />
      })}
      <text x="0" y={h + 12} fill="#8a9bb8" font-size="10">{new Date(buckets[0]!.start).getHours()}:00</text>
      <text x={w} y={h + 12} fill="#8a9bb8" font-size="10" text-anchor="end">{new Date(buckets.at(-1)!.end).getHours()}:00</text>
    </svg>
  )
}
