import { createStore, useStore } from './store'

/** One shared one-second tick for every tile's clock. */
const clock = createStore({ now: Date.now() })
setInterval(() => clock.set({ now: Date.now() }), 1000)
export const useNow = () => useStore(clock, (s) => s.now)

const pad = (n: number) => String(n).padStart(2, '0')
export function formatClock(ms: number): string {
  const d = new Date(ms)
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
}
export function stamp(ms: number): string {
  const d = new Date(ms)
  return `${d.getFullYear()}${pad(d.getMonth() + 1)}${pad(d.getDate())}-${pad(d.getHours())}${pad(d.getMinutes())}${pad(d.getSeconds())}`
}
