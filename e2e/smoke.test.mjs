// The real app, end to end: started by tauri-driver (which starts WebKitWebDriver, which
// starts the app) with `--demo --data-dir <fresh temp dir>`, under Xvfb with a D-Bus session
// and dunst. Run through scripts/e2e.sh, which sets:
//   APP_BIN       the built app binary
//   E2E_DATA_DIR  a fresh data directory
//   E2E_OUT       where screenshots go
//   NOTIFY_LOG    dbus-monitor's capture of org.freedesktop.Notifications.Notify calls
//
// Every wait has a deadline: WebKitWebDriver waits forever when the app dies at start.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { readFileSync, existsSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { remote } from 'webdriverio';

const APP = process.env.APP_BIN;
const DATA_DIR = process.env.E2E_DATA_DIR;
const OUT = process.env.E2E_OUT ?? '.';
const NOTIFY_LOG = process.env.NOTIFY_LOG;
const PORT = 4444;

let driver;
let browser;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function withTimeout(promise, ms, what) {
	let timer;
	const timeout = new Promise((_, reject) => {
		timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
	});
	return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function eventually(ms, what, f) {
	const deadline = Date.now() + ms;
	let last;
	while (Date.now() < deadline) {
		try {
			const v = await f();
			if (v) return v;
		} catch (e) {
			last = e;
		}
		await sleep(250);
	}
	throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? `: ${last}` : ''}`);
}

async function portOpen(port) {
	return new Promise((resolve) => {
		const s = net.connect(port, '127.0.0.1');
		s.once('connect', () => (s.destroy(), resolve(true)));
		s.once('error', () => resolve(false));
	});
}

/** Invokes a command in the page (no global API: `withGlobalTauri` is off). */
async function invoke(cmd, args = {}) {
	const r = await browser.executeAsync(
		(cmd, args, done) => {
			window.__TAURI_INTERNALS__
				.invoke(cmd, args)
				.then((ok) => done({ ok }), (err) => done({ err }));
		},
		cmd,
		args
	);
	if ('err' in r) throw Object.assign(new Error(JSON.stringify(r.err)), { payload: r.err });
	return r.ok;
}

const t0 = Date.now();
const mark = (what) => console.error(`[e2e +${((Date.now() - t0) / 1000).toFixed(1)} s] ${what}`);

before(async () => {
	assert.ok(APP && existsSync(APP), `APP_BIN must name the built app (got ${APP})`);
	assert.ok(DATA_DIR, 'E2E_DATA_DIR must be set');
	driver = spawn('tauri-driver', ['--port', String(PORT), '--native-port', '4445'], {
		stdio: ['ignore', 'inherit', 'inherit']
	});
	await eventually(15000, 'tauri-driver', () => portOpen(PORT));
	browser = await withTimeout(
		remote({
			hostname: '127.0.0.1',
			port: PORT,
			logLevel: 'error',
			connectionRetryCount: 0,
			capabilities: {
				browserName: 'wry',
				'wdio:enforceWebDriverClassic': true,
				'tauri:options': { application: APP, args: ['--demo', '--data-dir', DATA_DIR] }
			}
		}),
		60000,
		'the app to start under WebKitWebDriver'
	);
	mark('session started');
});

after(async () => {
	mark('closing the session');
	if (browser) await withTimeout(browser.deleteSession(), 10000, 'closing the session').catch(() => {});
	// SIGTERM (not SIGKILL): tauri-driver then stops its WebKitWebDriver too.
	if (driver && driver.exitCode === null) {
		const exited = new Promise((r) => driver.once('exit', r));
		driver.kill('SIGTERM');
		await withTimeout(exited, 10000, 'tauri-driver to stop').catch((e) => mark(e.message));
	}
	mark('stopped tauri-driver');
});

test('the window is titled Stockpulse', async () => {
	const ids = await eventually(10000, 'the window', () =>
		execFileSync('xdotool', ['search', '--name', '^Stockpulse$'], { encoding: 'utf8' }).trim()
	);
	assert.ok(ids.length > 0);
});

test('the page renders', async () => {
	const text = await eventually(20000, 'text in the page', async () => {
		const t = await browser.execute(() => document.body?.innerText ?? '');
		return t.trim().length > 0 ? t : null;
	});
	assert.match(text, /Stockpulse/);
	await browser.saveScreenshot(join(OUT, 'first-page.png'));
});

test('a command round trip: app_status in demo mode, a typed error for a bad input', async () => {
	const status = await invoke('app_status');
	assert.equal(status.demo, true);
	assert.equal(status.mode, 'embedded');
	assert.equal(typeof status.notifications.available, 'boolean');
	const settings = await invoke('settings');
	assert.equal(settings.data_dir, DATA_DIR);
	await assert.rejects(invoke('health', { days: 0 }), (e) => e.payload?.code === 'invalid_input');
});

test('the demo fills the cache and search finds an item by SKU', async () => {
	const page = await eventually(120000, 'the initial load', async () => {
		const p = await invoke('search', { query: { limit: 5 } });
		return p.rows.length > 0 ? p : null;
	});
	const sku = page.rows[0].sku;
	const found = await invoke('search', { query: { text: sku, limit: 5 } });
	assert.equal(found.rows[0].sku, sku);
	const detail = await invoke('item', { sku });
	assert.equal(detail.sku, sku);
});

test('the live feed arrives over a channel, and a stockout notifies on D-Bus', async () => {
	// A raw channel, as @tauri-apps/api's Channel builds one.
	await browser.execute(() => {
		window.__e2eEvents = [];
		const id = window.__TAURI_INTERNALS__.transformCallback((raw) => {
			window.__e2eEvents.push(raw && typeof raw === 'object' && 'message' in raw ? raw.message : raw);
		});
		return window.__TAURI_INTERNALS__.invoke('subscribe_events', { onEvent: `__CHANNEL__:${id}` });
	});
	const kinds = await eventually(90000, 'a stock change on the channel', async () => {
		const events = await browser.execute(() => window.__e2eEvents);
		const k = new Set(events.map((e) => e?.type));
		return k.has('stock_changed') ? k : null;
	});
	assert.ok(kinds.has('stock_changed'));
	if (NOTIFY_LOG) {
		const log = await eventually(90000, 'a Notify call for a stockout', () => {
			const text = readFileSync(NOTIFY_LOG, 'utf8');
			return /Out of stock/.test(text) ? text : null;
		});
		assert.match(log, /member=Notify/);
	}
	const alerts = await invoke('alerts');
	assert.ok(alerts.some((g) => g.kind === 'stockout'), JSON.stringify(alerts));
	await browser.saveScreenshot(join(OUT, 'after-stockout.png'));
});
