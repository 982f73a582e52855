import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/**
 * Janus 1.1.2 (Debian `janus`) as the bench's anchor: streaming plugin with one RTSP mountpoint
 * (id 1), HTTP transport on a free port, every other plugin/transport disabled, ICE restricted to
 * the machine's own non-loopback address (Janus skips loopback). Config lives in a temp dir.
 */
export interface JanusProcess {
  pid: number
  url: string
  mountpointId: number
  stop(): Promise<void>
}

const PLUGINS_DIR = '/usr/lib/x86_64-linux-gnu/janus/plugins'
const TRANSPORTS_DIR = '/usr/lib/x86_64-linux-gnu/janus/transports'

export async function freePort(): Promise<number> {
  const srv = createServer()
  srv.listen(0, '127.0.0.1')
  await once(srv, 'listening')
  const port = (srv.address() as { port: number }).port
  srv.close()
  return port
}

export async function startJanus(opts: { rtspUrl: string; iceAddress: string }): Promise<JanusProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-janus-'))
  const port = await freePort()
  const plugins = ['audiobridge', 'duktape', 'echotest', 'lua', 'nosip', 'recordplay', 'sip', 'textroom', 'videocall', 'videoroom', 'voicemail'].map((p) => `libjanus_${p}.so`)
  const transports = ['mqtt', 'nanomsg', 'pfunix', 'rabbitmq', 'websockets'].map((p) => `libjanus_${p}.so`)
  writeFileSync(
    join(dir, 'janus.jcfg'),
    `general: {
  configs_folder = "${dir}"
  plugins_folder = "${PLUGINS_DIR}"
  transports_folder = "${TRANSPORTS_DIR}"
  events_folder = "${dir}/none"
  loggers_folder = "${dir}/none"
  debug_level = 3
  session_timeout = 0
}
media: {
  rtp_port_range = "30000-39999"
}
nat: {
  nice_debug = false
  ice_enforce_list = "${opts.iceAddress}"
  ignore_mdns = true
}
plugins: {
  disable = "${plugins.join(',')}"
}
transports: {
  disable = "${transports.join(',')}"
}
events: {
  broadcast = false
}
`,
  )
  writeFileSync(
    join(dir, 'janus.transport.http.jcfg'),
    `general: {
  json = "compact"
  base_path = "/janus"
  http = true
  port = ${port}
  ip = "127.0.0.1"
  https = false
}
admin: {
  admin_http = false
}
cors: {
  allow_origin = "*"
}
`,
  )
  writeFileSync(
    join(dir, 'janus.plugin.streaming.jcfg'),
    `general: {
  string_ids = false
}
bench: {
  type = "rtsp"
  id = 1
  description = "bench 720p25"
  audio = false
  video = true
  url = "${opts.rtspUrl}"
  rtsp_reconnect_delay = 5
  rtsp_failcheck = false
}
`,
  )
  const child: ChildProcess = spawn('janus', ['-F', dir, '-C', join(dir, 'janus.jcfg'), '-N', '-o'], { stdio: ['ignore', 'pipe', 'pipe'] })
  let log = ''
  const keep = (d: Buffer) => {
    log = (log + d.toString()).slice(-20_000)
  }
  child.stdout!.on('data', keep)
  child.stderr!.on('data', keep)
  const url = `http://127.0.0.1:${port}/janus`
  const deadline = Date.now() + 20_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`janus exited ${child.exitCode}: ${log.slice(-3000)}`)
    try {
      const res = await fetch(`${url}/info`)
      if (res.ok) break
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new Error(`janus not ready: ${log.slice(-3000)}`)
    }
    await new Promise((r) => setTimeout(r, 200))
  }
  return {
    pid: child.pid!,
    url,
    mountpointId: 1,
    get log() {
      return log
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = once(child, 'exit')
        child.kill('SIGTERM')
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
        await exited
        clearTimeout(timer)
      }
      rmSync(dir, { recursive: true, force: true })
    },
  } as JanusProcess & { log: string }
}

/** Janus HTTP API: session + streaming handle, `watch` → offer, `start` with the answer. */
export class JanusStreamingClient {
  #session = 0
  #handle = 0
  #tx = 0
  constructor(readonly url: string) {}

  async #post(path: string, body: Record<string, unknown>): Promise<Record<string, any>> {
    const res = await fetch(this.url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...body, transaction: `t${++this.#tx}` }) })
    const json = (await res.json()) as Record<string, any>
    if (json.janus === 'error') throw new Error(`janus: ${JSON.stringify(json.error)}`)
    return json
  }

  async #event(): Promise<Record<string, any>> {
    const deadline = Date.now() + 15_000
    while (Date.now() < deadline) {
      const res = await fetch(`${this.url}/${this.#session}?maxev=1&rid=${Date.now()}`)
      const json = (await res.json()) as Record<string, any>
      if (json.janus === 'event' && json.sender === this.#handle) return json
    }
    throw new Error('janus: no event')
  }

  /** Returns Janus's offer for the mountpoint. */
  async watch(mountpointId: number): Promise<string> {
    this.#session = (await this.#post('', { janus: 'create' })).data.id
    this.#handle = (await this.#post(`/${this.#session}`, { janus: 'attach', plugin: 'janus.plugin.streaming' })).data.id
    await this.#post(`/${this.#session}/${this.#handle}`, { janus: 'message', body: { request: 'watch', id: mountpointId } })
    for (;;) {
      const ev = await this.#event()
      if (ev.jsep?.type === 'offer') return ev.jsep.sdp as string
      if (ev.plugindata?.data?.error) throw new Error(`janus watch: ${ev.plugindata.data.error}`)
    }
  }

  async start(answerSdp: string): Promise<void> {
    await this.#post(`/${this.#session}/${this.#handle}`, { janus: 'message', body: { request: 'start' }, jsep: { type: 'answer', sdp: answerSdp, trickle: false } })
  }

  async destroy(): Promise<void> {
    if (!this.#session) return
    await this.#post(`/${this.#session}`, { janus: 'destroy' }).catch(() => undefined)
    this.#session = 0
  }
}
