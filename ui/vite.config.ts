import { sveltekit } from '@sveltejs/kit/vite';
import { defineConfig } from 'vitest/config';

export default defineConfig({
	plugins: [sveltekit()],
	// Tauri expects a fixed dev port and must see Rust errors in the terminal.
	clearScreen: false,
	server: { port: 5173, strictPort: true },
	// The timing report is noise on a shared 2-core machine.
	build: { rolldownOptions: { checks: { bundlerTimings: false } } },
	// Component tests need Svelte's browser build, not the server one.
	resolve: process.env.VITEST ? { conditions: ['browser'] } : undefined,
	test: {
		// Only the UI's own tests: never e2e or Playwright folders elsewhere in the repository.
		include: ['src/**/*.test.ts'],
		environment: 'jsdom',
		setupFiles: ['src/test/setup.ts'],
		restoreMocks: true
	}
});
