import { createStore, useStore } from './store'

/** Client-side routes on real paths (the gateway answers index.html for any of them). */
export type Route = 'wall' | 'cases' | 'map' | 'health' | 'safety' | 'footage' | 'registry' | 'discovery' | 'users' | 'audit'
export const ROUTES: Route[] = ['wall', 'cases', 'map', 'health', 'safety', 'footage', 'registry', 'discovery', 'users', 'audit']

function parse(): Route {
  const seg = location.pathname.replace(/^\/+/, '').split('/')[0] as Route
  return ROUTES.includes(seg) ? seg : 'wall'
}

const routeStore = createStore({ route: parse() })
addEventListener('popstate', () => routeStore.set({ route: parse() }))

export function navigate(route: Route): void {
  if (routeStore.get().route === route && location.pathname === `/${route}`) return
  history.pushState(null, '', `/${route}`)
  routeStore.set({ route })
}

export const useRoute = () => useStore(routeStore, (s) => s.route)
