import { render } from 'solid-js/web';
import { App } from './app/App';
import { registerPwa } from './client/pwa';
import './app/styles.css';

// Offline support and update announcements (a no-op in dev).
registerPwa();
render(() => <App />, document.getElementById('root')!);
