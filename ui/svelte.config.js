// SvelteKit in single-page mode for Tauri: the static adapter writes `build/` with an
// `index.html` fallback, every route renders in the web view (root +layout.ts: ssr = false).
import adapter from '@sveltejs/adapter-static';
import { vitePreprocess } from '@sveltejs/vite-plugin-svelte';

/** @type {import('@sveltejs/kit').Config} */
const config = {
	preprocess: vitePreprocess(),
	compilerOptions: { runes: true },
	kit: {
		adapter: adapter({ pages: 'build', assets: 'build', fallback: 'index.html', strict: true }),
		// Tauri serves the files itself; no service worker, no inline-script CSP surprises.
		serviceWorker: { register: false }
	}
};

export default config;
