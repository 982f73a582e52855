import { useEffect, useState } from 'preact/hooks'

/** A tiny observable store: screens read it through `useStore(selector)`. */
export interface Store<T> {
  get(): T
  set(patch: Partial<T> | ((s: T) => Partial<T>)): void
  subscribe(fn: () => void): () => void
}

export function createStore<T extends object>(initial: T): Store<T> {
  let state = initial
  const listeners = new Set<() => void>()
  return {
    get: () => state,
    set(patch) {
      const p = typeof patch === 'function' ? patch(state) : patch
      state = { ...state, ...p }
      for (const fn of [...listeners]) fn()
    },
    subscribe(fn) {
      listeners.add(fn)
      return () => listeners.delete(fn)
    },
  }
}

export function useStore<T extends object, S>(store: Store<T>, select: (s: T) => S): S {
  const [value, setValue] = useState(() => select(store.get()))
  useEffect(() => {
    const check = () => setValue(() => select(store.get()))
    check()
    return store.subscribe(check)
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [store])
  return value
}
