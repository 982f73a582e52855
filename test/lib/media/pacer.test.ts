import t from 'tap'
import { Pacer, type PacerClock } from '../../../src/lib/media/index.js'

/** A clock the test advances by hand; timers fire in due order. */
class ManualClock implements PacerClock {
  time = 0
  #timers: { at: number; fn: () => void; id: number }[] = []
  #ids = 0
  now(): number {
    return this.time
  }
  setTimer(fn: () => void, ms: number): unknown {
    const id = ++this.#ids
    this.#timers.push({ at: this.time + ms, fn, id })
    return id
  }
  clearTimer(handle: unknown): void {
    this.#timers = this.#timers.filter((x) => x.id !== handle)
  }
  get pending(): number {
    return this.#timers.length
  }
  advance(ms: number): void {
    const end = this.time + ms
    for (;;) {
      this.#timers.sort((a, b) => a.at - b.at)
      const next = this.#timers[0]
      if (!next || next.at > end) break
      this.#timers.shift()
      this.time = next.at
      next.fn()
    }
    this.time = end
  }
}

t.test('sends a burst at once, then at the rate, in order', async (t) => {
  const clock = new ManualClock()
  const sent: number[] = []
  let drained = 0
  const pacer = new Pacer<number>({ burst: 4, ratePerMs: 0.5, send: (n) => sent.push(n), drained: () => drained++, clock })
  for (let i = 0; i < 10; i++) pacer.push(i)
  t.same(sent, [0, 1, 2, 3], 'the burst leaves at once')
  t.equal(pacer.queued, 6)
  clock.advance(2)
  t.same(sent, [0, 1, 2, 3, 4], 'one more item after 2 ms at 0.5 per ms')
  clock.advance(4)
  t.same(sent, [0, 1, 2, 3, 4, 5, 6])
  t.equal(drained, 0)
  clock.advance(100)
  t.same(sent, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 'everything, in order')
  t.equal(drained, 1, 'drained reported once the queue is empty')
  t.equal(pacer.queued, 0)
  t.equal(clock.pending, 0, 'no timer left once drained')
})

t.test('an item pushed while others wait queues behind them', async (t) => {
  const clock = new ManualClock()
  const sent: string[] = []
  const pacer = new Pacer<string>({ burst: 1, ratePerMs: 1, send: (s) => sent.push(s), clock })
  pacer.push('a')
  pacer.push('b')
  clock.advance(0.5)
  pacer.push('c') // the bucket is refilling, but b is still waiting: c must not overtake it
  t.same(sent, ['a'])
  clock.advance(0.5)
  t.same(sent, ['a', 'b'])
  clock.advance(1)
  t.same(sent, ['a', 'b', 'c'])
})

t.test('tokens refill up to the burst while idle', async (t) => {
  const clock = new ManualClock()
  let n = 0
  const pacer = new Pacer<number>({ burst: 3, ratePerMs: 1, send: () => n++, clock })
  for (let i = 0; i < 3; i++) pacer.push(i)
  t.equal(n, 3)
  clock.advance(1000) // a long idle time refills to 3, not 1000
  for (let i = 0; i < 10; i++) pacer.push(i)
  t.equal(n, 6, 'the bucket holds at most the burst')
})

t.test('close drops what waits, cancels the timer, and is idempotent', async (t) => {
  const clock = new ManualClock()
  const sent: number[] = []
  const pacer = new Pacer<number>({ burst: 1, ratePerMs: 1, send: (x) => sent.push(x), clock })
  pacer.push(1)
  pacer.push(2)
  t.equal(clock.pending, 1)
  pacer.close()
  pacer.close()
  t.equal(clock.pending, 0)
  clock.advance(10)
  pacer.push(3)
  t.same(sent, [1], 'nothing after close')
})

t.test('rejects a burst below 1 or a rate of 0', async (t) => {
  t.throws(() => new Pacer({ burst: 0, ratePerMs: 1, send: () => {} }), RangeError)
  t.throws(() => new Pacer({ burst: 1, ratePerMs: 0, send: () => {} }), RangeError)
})
