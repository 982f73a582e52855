import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

export interface FleetDevice {
  uuid: string
  xaddr: string
  address: string
  name: string
}

/** Starts fleet-process.ts (in the caller's network namespace) and waits until every device listens. */
export async function startFleetProcess(args: string[]): Promise<{ devices: FleetDevice[]; child: ChildProcess; close(): Promise<void> }> {
  const script = fileURLToPath(new URL('./fleet-process.ts', import.meta.url))
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { stdio: ['pipe', 'pipe', 'inherit'], cwd: fileURLToPath(new URL('../../..', import.meta.url)) })
  const line = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout! })
    rl.once('line', resolve)
    child.once('exit', (code) => reject(new Error(`fleet process exited with ${code}`)))
  })
  const { devices } = JSON.parse(line) as { devices: FleetDevice[] }
  return {
    devices,
    child,
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve()
        child.once('exit', () => resolve())
        child.stdin!.end()
        setTimeout(() => child.kill('SIGKILL'), 5000).unref()
      }),
  }
}
