import { render } from 'solid-js/web';
import { App } from './app/App';
import { registerPwa } from './client/pwa';
import { applyThemeChoice, readThemeChoice, safeLocalStorage } from './app/lib/theme';
import './app/styles.css';

// The stored Light/Dark choice before anything renders (no choice: the stylesheet follows the system).
applyThemeChoice(document.documentElement, readThemeChoice(safeLocalStorage()));
// Offline support and update announcements (a no-op in dev).
registerPwa();
render(() => <App />, document.getElementById('root')!);
