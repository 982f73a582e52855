import { useEffect, useState } from 'preact/hooks'
import { cases, type SafetyEntry } from '../lib/api'
import { t, useLang, type Key } from '../lib/i18n'
import { toast } from '../lib/state'

const thisMonth = () => new Date().toISOString().slice(0, 7)

/** 平安指数: each unit's month in one of four colours; three red months in a row are flagged. */
export function SafetyScreen() {
  useLang()
  const [month, setMonth] = useState(thisMonth())
  const [data, setData] = useState<{ unit: SafetyEntry; children: SafetyEntry[] } | null>(null)
  useEffect(() => {
    cases.safetyIndex(month).then(setData, (err: Error) => toast(err.message, 'error'))
  }, [month])
  const card = (e: SafetyEntry, big = false) => (
    <div key={e.unit.id} class={`safety-card colour-${e.colour}${big ? ' big' : ''}`} data-testid="safety-card" data-colour={e.colour}>
      <div class="row">
        <span class="tier-tag">{t(`tier.${e.unit.tier}` as Key)}</span>
        <strong>{e.unit.name}</strong>
      </div>
      <div class="safety-score">{e.score.toFixed(0)}</div>
      <div class="small">
        {t(`colour.${e.colour}` as Key)} · {t('safety.cases')} {e.cases}
      </div>
      {e.redStreak > 1 && <div class="small">{t('safety.streak', { n: e.redStreak })}</div>}
      {e.underSupervision && <div class="badge class-1">{t('safety.supervised')}</div>}
    </div>
  )
  return (
    <div class="page" data-testid="safety">
      <div class="page-head">
        <h1>{t('safety.title')}</h1>
        <label class="check">
          {t('safety.month')}
          <input type="month" value={month} onInput={(e) => e.currentTarget.value && setMonth(e.currentTarget.value)} />
        </label>
      </div>
      {data && (
        <div class="safety-grid">
          {card(data.unit, true)}
          {data.children.map((c) => card(c))}
        </div>
      )}
    </div>
  )
}
