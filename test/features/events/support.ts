export interface SseEvent {
  id: number
  event: string
  data: any
}

export interface SseClient {
  events: SseEvent[]
  status: number
  /** resolves with the first event (from the start of the stream) matching, or rejects after timeoutMs */
  waitFor(pred: (e: SseEvent) => boolean, timeoutMs?: number): Promise<SseEvent>
  close(): void
  closed: Promise<void>
}

/** A real HTTP Server-Sent Events client: fetch + a stream reader, parsing `id:`, `event:`, `data:`. */
export async function openStream(base: string, token: string, opts: { lastEventId?: number; query?: string } = {}): Promise<SseClient> {
  const ac = new AbortController()
  const headers: Record<string, string> = { authorization: `Bearer ${token}`, accept: 'text/event-stream' }
  if (opts.lastEventId !== undefined) headers['last-event-id'] = String(opts.lastEventId)
  const res = await fetch(`${base}/api/events/stream${opts.query ?? ''}`, { headers, signal: ac.signal })
  const events: SseEvent[] = []
  const waiters = new Set<() => void>()
  const client: SseClient = {
    events,
    status: res.status,
    async waitFor(pred, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        const hit = events.find(pred)
        if (hit) return hit
        const left = deadline - Date.now()
        if (left <= 0) throw new Error(`no matching event within ${timeoutMs} ms (have ${events.map((e) => `${e.id}:${e.event}`).join(', ')})`)
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left)
          const w = () => {
            clearTimeout(timer)
            waiters.delete(w)
            resolve()
          }
          waiters.add(w)
        })
      }
    },
    close: () => ac.abort(),
    closed: Promise.resolve(),
  }
  if (!res.ok || !res.body) return client
  client.closed = (async () => {
    const reader = res.body!.getReader()
    const decoder = new TextDecoder()
    let buf = ''
    try {
      for (;;) {
        const { value, done } = await reader.read()
        if (done) break
        buf += decoder.decode(value, { stream: true })
        let idx
        while ((idx = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, idx)
          buf = buf.slice(idx + 2)
          let id: number | undefined
          let event = 'message'
          const data: string[] = []
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) continue
            if (line.startsWith('id: ')) id = Number(line.slice(4))
            else if (line.startsWith('event: ')) event = line.slice(7)
            else if (line.startsWith('data: ')) data.push(line.slice(6))
          }
          if (id !== undefined && data.length) {
            events.push({ id, event, data: JSON.parse(data.join('\n')) })
            for (const w of [...waiters]) w()
          }
        }
      }
    } catch {
      /* aborted */
    }
  })()
  return client
}
