import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { projectRoot } from '../../src/core/paths.js'

/** One benchmark figure, with the target the issue states. */
export interface Figure {
  value: number
  unit: string
  target?: number
  better: 'lower' | 'higher'
}

export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[i]!
}

export function summarize(samples: number[]): { p50: number; p99: number; max: number } {
  const s = [...samples].sort((a, b) => a - b)
  return { p50: percentile(s, 50), p99: percentile(s, 99), max: s[s.length - 1] ?? NaN }
}

/** Prints a table and writes bench/out/<name>.json. Never fails on a figure: benchmarks inform. */
export function report(bench: string, figures: Record<string, Figure>, notes: string[] = []): void {
  const rows = Object.entries(figures).map(([name, f]) => {
    const meets = f.target === undefined ? '' : (f.better === 'lower' ? f.value <= f.target : f.value >= f.target) ? 'yes' : 'NO'
    return [name, round(f.value).toString(), f.unit, f.target === undefined ? '' : `${f.better === 'lower' ? '≤' : '≥'} ${f.target}`, meets]
  })
  const header = ['figure', 'value', 'unit', 'target', 'meets']
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ')
  console.log(`\n${bench}`)
  console.log(line(header))
  console.log(widths.map((w) => '-'.repeat(w)).join('  '))
  for (const r of rows) console.log(line(r))
  for (const n of notes) console.log(`note: ${n}`)
  const outDir = join(projectRoot, 'bench', 'out')
  mkdirSync(outDir, { recursive: true })
  const file = join(outDir, `${bench}.json`)
  writeFileSync(file, JSON.stringify({ bench, figures, notes }, null, 2) + '\n')
  console.log(`wrote ${file}`)
}

function round(v: number): number {
  return Math.abs(v) >= 100 ? Math.round(v) : Math.round(v * 100) / 100
}
