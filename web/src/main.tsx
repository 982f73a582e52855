import { render } from 'preact'
import { App } from './App'
import { langStore } from './lib/i18n'
import { loadSession } from './lib/state'
import './styles.css'

document.documentElement.lang = langStore.get().lang === 'zh' ? 'zh-CN' : 'en'
render(<App />, document.getElementById('app')!)
void loadSession()
