import { createHash } from 'node:crypto'
import type { SecretBox } from '../../core/crypto.js'
import { inTransaction, type Db } from '../../core/db.js'
import { AddressNotAllowedError, ConflictError, NotFoundError, UnprocessableError, ValidationError, type FieldProblem } from '../../core/errors.js'
import type { EventBus } from '../../core/events.js'
import { decodeCursor, encodeCursor } from '../../core/http/cursor.js'
import { scopeOf, SYSTEM_SCOPE, type Principal, type Scope } from '../../core/scope.js'
import type { AuditLog } from '../audit/index.js'
import type { OrgService, Unit } from '../org/index.js'
import { applyCameraInput, CREDENTIALS_AAD, storedUriForm, type Applied, type UriHostPolicy } from './apply.js'
import { cameraToCsvLine, columnOfApiField, CSV_HEADER, decodeCsv, parseCsv, rowToInput } from './csv.js'
import type { Camera, CameraCredentials, CameraFilter, CameraInput, CameraStatus } from './model.js'
import { CameraStore, columnsOf, toCamera, type CameraColumns, type CameraIdentity, type CameraRow } from './store.js'

export interface ImportReport {
  dryRun: boolean
  rows: number
  created: number
  updated: number
  unchanged: number
  errors: FieldProblem[]
}

const MAX_REPORTED_ERRORS = 1000

/** 400 for malformed fields; 422 address_not_allowed for URIs the camera address policy refuses. */
function throwProblems(applied: Applied): void {
  if (applied.problems.length) throw new ValidationError(applied.problems.map((p) => `${p.field} ${p.message}`).join('; '), applied.problems)
  if (applied.addressProblems.length) throw new AddressNotAllowedError(applied.addressProblems.map((p) => `${p.field}: ${p.message}`).join('; '), applied.addressProblems)
}

export class RegistryService {
  readonly #db: Db
  readonly #store: CameraStore
  readonly #org: OrgService
  readonly #audit: AuditLog
  readonly #bus: EventBus
  readonly #box: SecretBox
  readonly #settings: { importMaxRows: number; pageSizeMax: number }
  readonly #policy: UriHostPolicy | undefined

  /** @param deps.addressPolicy the camera address policy, checked on every URI written (cameras.allowedCidrs) */
  constructor(deps: { db: Db; org: OrgService; audit: AuditLog; bus: EventBus; box: SecretBox; settings: { importMaxRows: number; pageSizeMax: number }; addressPolicy?: UriHostPolicy }) {
    this.#policy = deps.addressPolicy
    this.#db = deps.db
    this.#store = new CameraStore(deps.db)
    this.#org = deps.org
    this.#audit = deps.audit
    this.#bus = deps.bus
    this.#box = deps.box
    this.#settings = deps.settings
    deps.org.registerUsage({ what: 'cameras', count: (unitId) => this.#store.countInUnit(unitId) })
  }

  list(principal: Principal, filter: CameraFilter, cursor: string | undefined, limit: number): { items: Camera[]; nextCursor: string | null } {
    const scope = scopeOf(principal)
    const underPath = filter.unitId === undefined ? undefined : this.#org.get(scope, filter.unitId).path
    const pageSize = Math.min(limit, this.#settings.pageSizeMax)
    const rows = this.#store.list(scope, { ...filter, underPath }, decodeCursor('cam', cursor), pageSize + 1)
    const more = rows.length > pageSize
    const items = rows.slice(0, pageSize).map(toCamera)
    return { items, nextCursor: more ? encodeCursor('cam', items.at(-1)!.id) : null }
  }

  get(principal: Principal, id: number): Camera {
    return toCamera(this.#row(scopeOf(principal), id))
  }

  /**
   * Whether the caller may read a camera (its subtree, 内保外用), each id looked up once: for lists
   * other features keep by camera id (live streams, recorders, locks). A camera deleted since is not shown.
   */
  visibleFilter(principal: Principal): (cameraId: number) => boolean {
    const scope = scopeOf(principal)
    const seen = new Map<number, boolean>()
    return (cameraId) => {
      let ok = seen.get(cameraId)
      if (ok === undefined) {
        try {
          this.getForUse(scope, cameraId)
          ok = true
        } catch {
          ok = false
        }
        seen.set(cameraId, ok)
      }
      return ok
    }
  }

  /**
   * For features acting on a camera the caller may see (media, PTZ): the camera and its credentials.
   * The credentials are decrypted when read, so a caller that only wants the camera never fails on
   * credentials that no longer open (a changed key).
   */
  getForUse(scope: Scope, id: number): { camera: Camera; credentials: CameraCredentials | null } {
    return this.#forUse(this.#row(scope, id))
  }

  /** For system jobs (health sweeps, event subscriptions): every enabled camera with credentials. */
  *iterateEnabledForSystem(): IterableIterator<{ camera: Camera; credentials: CameraCredentials | null }> {
    for (const row of this.#store.iterate(SYSTEM_SCOPE)) {
      if (row.enabled === 1) yield this.#forUse(row)
    }
  }

  /** For system jobs that hold a long list (health sweeps): the ids of every enabled camera. */
  enabledIdsForSystem(): number[] {
    return this.#store.enabledIds()
  }

  /** One camera with its credentials for a system job; null when it is gone or disabled since. */
  getEnabledForSystem(id: number): { camera: Camera; credentials: CameraCredentials | null } | null {
    const row = this.#store.getUnscoped(id)
    return row && row.enabled === 1 ? this.#forUse(row) : null
  }

  #forUse(row: CameraRow): { camera: Camera; credentials: CameraCredentials | null } {
    const open = () => this.#credentialsOf(row)
    return {
      camera: toCamera(row),
      get credentials() {
        return open()
      },
    }
  }

  create(actor: Principal, input: CameraInput & Required<Pick<CameraInput, 'unitId' | 'name' | 'class' | 'kind'>>, client?: string): Camera {
    const scope = scopeOf(actor)
    const unit = this.#org.get(scope, input.unitId)
    const applied = applyCameraInput(null, input, this.#box, undefined, this.#policy)
    this.#checkPlacement(applied.cols, unit, applied.problems, (f) => `body.${f}`)
    throwProblems(applied)
    return inTransaction(this.#db, () => {
      this.#assertSerialFree(applied.cols.serial, null)
      const id = this.#store.insert(applied.cols)
      this.#audit.record({ actor, action: 'camera.create', target: { type: 'camera', id }, unitPath: unit.path, client, detail: { name: applied.cols.name, serial: applied.cols.serial, hasCredentials: applied.cols.credentials !== null } })
      const camera = toCamera(this.#store.getUnscoped(id)!)
      this.#bus.emit('camera.created', { cameraId: id, unitId: camera.unitId })
      return camera
    })
  }

  /**
   * Changes a camera. A URI moved to another host or port without credentials in the same input
   * drops the stored credentials (`credentialsDropped` names the URIs; audited as
   * camera.credentials_dropped): they were entered for the old host.
   */
  update(actor: Principal, id: number, input: CameraInput, client?: string, fieldName?: (apiField: string) => string): Camera & { credentialsDropped?: string[] } {
    const scope = scopeOf(actor)
    return inTransaction(this.#db, () => {
      const row = this.#row(scope, id)
      const unit = this.#org.get(scope, input.unitId ?? row.unit_id)
      const applied = applyCameraInput(columnsOf(row), input, this.#box, fieldName, this.#policy)
      this.#checkPlacement(applied.cols, unit, applied.problems, (f) => `body.${f}`)
      throwProblems(applied)
      if (!applied.changed.length) return toCamera(row)
      this.#assertSerialFree(applied.cols.serial, id)
      this.#store.update(id, applied.cols)
      this.#auditChange(actor, id, unit.path, applied.changed, client, row.unit_id !== applied.cols.unit_id ? { fromUnitId: row.unit_id } : {}, applied.credentialsDropped)
      this.#bus.emit('camera.updated', { cameraId: id, unitId: applied.cols.unit_id, changed: applied.changed })
      const camera = toCamera(this.#store.getUnscoped(id)!)
      return applied.credentialsDropped.length ? { ...camera, credentialsDropped: applied.credentialsDropped } : camera
    })
  }

  delete(actor: Principal, id: number, client?: string): void {
    const scope = scopeOf(actor)
    inTransaction(this.#db, () => {
      const row = this.#row(scope, id)
      this.#store.delete(id)
      this.#audit.record({ actor, action: 'camera.delete', target: { type: 'camera', id }, unitPath: row.unit_path, client, detail: { name: row.name, serial: row.serial } })
      this.#bus.emit('camera.deleted', { cameraId: id, unitId: row.unit_id })
    })
  }

  /**
   * Unscoped identity lookups for system paths (alarm ingest, discovery matching): they answer
   * "which camera is this?" so the caller can then apply the requester's scope itself.
   */
  identityById(id: number): CameraIdentity | undefined {
    return this.#store.identityById(id)
  }

  identityBySerial(serial: string): CameraIdentity | undefined {
    return this.#store.identityBySerial(serial)
  }

  identityByEndpointRef(...refs: string[]): CameraIdentity | undefined {
    return this.#store.identityByEndpointRef(refs)
  }

  identityByOnvifOrigin(origin: string): CameraIdentity | undefined {
    return this.#store.identityByOnvifOrigin(origin)
  }

  /** Health (system) records a camera's status; readers see it on the camera. */
  setStatus(id: number, status: CameraStatus, reasons: string[], at: string): void {
    this.#store.setStatus(id, status, reasons, at)
  }

  /** Health (system) records the camera clock's offset from ours, as last measured. */
  setClockOffset(id: number, offsetMs: number | null): void {
    this.#store.setClockOffset(id, offsetMs)
  }

  /**
   * CSV import. Every row is validated first; if any row is bad nothing is written and every bad
   * row is reported with its line and column. Rows match existing cameras on serial, else on a
   * unique ONVIF address, so importing the same file twice changes nothing the second time.
   */
  importCsv(actor: Principal, bytes: Buffer, options: { dryRun: boolean }, client?: string): ImportReport {
    const scope = scopeOf(actor)
    const { rows, problems } = parseCsv(decodeCsv(bytes), this.#settings.importMaxRows)
    const report: ImportReport = { dryRun: options.dryRun, rows: rows.length, created: 0, updated: 0, unchanged: 0, errors: [...problems] }
    if (problems.length) throw new UnprocessableError(`the file has ${problems.length} problems; nothing was imported`, problems.slice(0, MAX_REPORTED_ERRORS), { report })

    const units = new Map<string, Unit | null>()
    const unitByCode = (code: string) => {
      const key = code.toLowerCase()
      if (!units.has(key)) units.set(key, this.#org.findByCode(scope, code) ?? null)
      return units.get(key)!
    }
    const planned: { line: number; existingId: number | null; cols: CameraColumns; changed: string[]; credentialsDropped: string[] }[] = []
    const serialsInFile = new Map<string, number>()
    const onvifInFile = new Map<string, number>()

    for (const row of rows) {
      const bad = (field: string, message: string) => report.errors.push({ field, line: row.line, message })
      const { input, unitCode, problems: rowProblems } = rowToInput(row)
      report.errors.push(...rowProblems)
      const unit = unitCode ? unitByCode(unitCode) : null
      if (!unitCode) bad('unit_code', 'is required')
      else if (!unit) bad('unit_code', `no unit ${unitCode} in your part of the org tree`)
      if (unit) input.unitId = unit.id

      const serial = input.device?.serial ?? null
      // stored ONVIF addresses are normalised (no userinfo, `http://h` → `http://h/`): match in that form
      const onvif = input.onvifUrl ? storedUriForm(input.onvifUrl) : null
      let existing: CameraRow | undefined
      if (serial) existing = this.#store.bySerialUnscoped(serial)
      if (!existing && onvif) {
        const matches = this.#store.byOnvifUrlUnscoped(onvif)
        if (matches.length === 1) existing = matches[0]
      }
      if (existing && !this.#store.get(scope, existing.id)) {
        bad(serial ? 'serial' : 'onvif_url', 'belongs to a camera outside your part of the org tree')
        continue
      }
      if (serial) {
        const first = serialsInFile.get(serial)
        if (first !== undefined) bad('serial', `repeats line ${first}`)
        else serialsInFile.set(serial, row.line)
      } else if (onvif) {
        const first = onvifInFile.get(onvif)
        if (first !== undefined) bad('onvif_url', `repeats line ${first} (give each camera a serial to tell them apart)`)
        else onvifInFile.set(onvif, row.line)
      }
      if (rowProblems.length || !unit) continue

      const applied = applyCameraInput(existing ? columnsOf(existing) : null, input, this.#box, columnOfApiField, this.#policy)
      this.#checkPlacement(applied.cols, unit, applied.problems, columnOfApiField)
      for (const p of [...applied.problems, ...applied.addressProblems]) bad(p.field, p.message)
      if (applied.problems.length || applied.addressProblems.length) continue
      planned.push({ line: row.line, existingId: existing?.id ?? null, cols: applied.cols, changed: applied.changed, credentialsDropped: applied.credentialsDropped })
    }

    if (report.errors.length) {
      report.errors.sort((a, b) => (a.line ?? 0) - (b.line ?? 0))
      const n = report.errors.length
      report.errors = report.errors.slice(0, MAX_REPORTED_ERRORS)
      throw new UnprocessableError(`${n} problems in the file; nothing was imported`, report.errors, { report })
    }
    for (const p of planned) {
      if (p.existingId === null) report.created++
      else if (p.changed.length) report.updated++
      else report.unchanged++
    }
    if (options.dryRun) return report

    inTransaction(this.#db, () => {
      const createdIds: number[] = []
      const updatedIds: number[] = []
      for (const p of planned) {
        if (p.existingId === null) createdIds.push(this.#store.insert(p.cols))
        else if (p.changed.length) {
          this.#store.update(p.existingId, p.cols)
          updatedIds.push(p.existingId)
        }
      }
      this.#audit.record({
        actor,
        action: 'camera.import',
        client,
        detail: {
          fileSha256: createHash('sha256').update(bytes).digest('hex'),
          rows: report.rows,
          created: report.created,
          updated: report.updated,
          unchanged: report.unchanged,
          createdIds: createdIds.slice(0, 1000),
          updatedIds: updatedIds.slice(0, 1000),
          credentialsChanged: planned.filter((p) => p.changed.includes('credentials') && !p.credentialsDropped.length).length,
          // rows whose URIs moved to another host without a password: their stored credentials were dropped
          credentialsDropped: planned.filter((p) => p.credentialsDropped.length).map((p) => ({ line: p.line, cameraId: p.existingId, fields: p.credentialsDropped })).slice(0, 1000),
        },
      })
    })
    return report
  }

  /** CSV export of every camera the caller sees (optionally one subtree); never credentials. */
  *exportCsv(principal: Principal, unitId: number | undefined, client?: string): IterableIterator<string> {
    const scope = scopeOf(principal)
    const underPath = unitId === undefined ? undefined : this.#org.get(scope, unitId).path
    const codes = new Map<number, string>()
    const codeOf = (id: number) => {
      if (!codes.has(id)) codes.set(id, this.#org.getUnscoped(id)?.code ?? '')
      return codes.get(id)!
    }
    this.#audit.record({ actor: principal, action: 'camera.export', client, detail: { unitId: unitId ?? null } })
    // BOM: Excel opens UTF-8 CSV with Chinese names correctly only with it.
    yield '\uFEFF' + CSV_HEADER
    let batch = ''
    for (const row of this.#store.iterate(scope, underPath)) {
      batch += cameraToCsvLine(toCamera(row), codeOf(row.unit_id))
      if (batch.length > 64 * 1024) {
        yield batch
        batch = ''
      }
    }
    if (batch) yield batch
  }

  #row(scope: Scope, id: number): CameraRow {
    const row = this.#store.get(scope, id)
    if (!row) throw new NotFoundError('camera', id)
    return row
  }

  #credentialsOf(row: CameraRow): CameraCredentials | null {
    if (row.credentials === null) return null
    let plain: string
    try {
      plain = this.#box.open(row.credentials, CREDENTIALS_AAD)
    } catch {
      // GCM authentication failed: sealed under another key. Say so, instead of OpenSSL's words.
      throw new Error(`camera ${row.id}: stored credentials do not open with this credential key (did GW_CREDENTIAL_KEY or keys/credential.key change?); enter them again`)
    }
    return JSON.parse(plain) as CameraCredentials
  }

  #checkPlacement(cols: CameraColumns, unit: Unit, problems: FieldProblem[], fieldName: (f: string) => string): void {
    if (cols.shared_upward === 1 && unit.tier !== 'site') {
      problems.push({ field: fieldName('sharedUpward'), message: 'only cameras of a site (小区/企业) are shared upward' })
    }
  }

  #assertSerialFree(serial: string | null, selfId: number | null): void {
    if (!serial) return
    const other = this.#store.bySerialUnscoped(serial)
    if (other && other.id !== selfId) throw new ConflictError(`serial ${serial} is already registered`, [{ field: 'body.device.serial', message: 'is already registered' }])
  }

  #auditChange(actor: Principal, id: number, unitPath: string, changed: string[], client: string | undefined, extra: Record<string, unknown>, credentialsDropped: string[] = []): void {
    const plain = changed.filter((c) => c !== 'credentials')
    if (plain.length) this.#audit.record({ actor, action: 'camera.update', target: { type: 'camera', id }, unitPath, client, detail: { changed: plain, ...extra } })
    if (credentialsDropped.length) this.#audit.record({ actor, action: 'camera.credentials_dropped', target: { type: 'camera', id }, unitPath, client, detail: { reason: 'uri_host_changed', fields: credentialsDropped } })
    else if (changed.includes('credentials')) this.#audit.record({ actor, action: 'camera.credentials_change', target: { type: 'camera', id }, unitPath, client })
  }
}
