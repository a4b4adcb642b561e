// The desktop app's benchmark (issue 10, "Benchmark"): the real built app under Xvfb, driven
// through tauri-driver + WebKitWebDriver, with every time taken INSIDE the web view
// (performance.now(), requestAnimationFrame, MutationObserver) so the WebDriver round trip
// never counts. Figures are printed and written to JSON; nothing is asserted.
//
// Run through scripts/bench-app.sh, which sets:
//   APP_BIN          the built app binary
//   BENCH_HOME       a folder whose stockpulse/stockpulse.db is the 100k-product cache
//                    (used as XDG_DATA_HOME, see "Why not --data-dir" below)
//   BENCH_DEMO_DIR   a fresh data directory for the demo session (`--demo --data-dir`)
//   BENCH_OUT        where figures.json, the screenshots and notify-calls.log go
//   NOTIFY_LOG       dbus-monitor's capture of org.freedesktop.Notifications.Notify calls
//   BENCH_PORT       tauri-driver's port (default 4464; the native driver gets the next one)
//
// Why not --data-dir for the 100k session: an explicit data dir is isolated from the
// environment and keeps secrets in memory, so Finale is never configured there and the UI
// shows its first-run screen over the cache. The bench therefore starts the app without
// --data-dir, with XDG_DATA_HOME / XDG_CONFIG_HOME pointing at the bench's own folder,
// STOCKPULSE_KEYCHAIN=off, and a Finale account whose base URL is a closed loopback port:
// an offline workstation browsing its cache (its scheduled sync fails at once and is
// retried in minutes). Nothing leaves the machine.
//
// Phases: (1) 100k session: launch → first rows, RSS at rest, screenshot, keystrokes,
// scrolling, item opens, RSS after use; (2) demo session: stockouts from the in-process
// simulator, event commit → row updated and → Notify on D-Bus.

import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync, existsSync, readdirSync, mkdirSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import {
	endSession,
	eventually,
	sleep,
	startDriver as startTauriDriver,
	startSession,
	windowShot,
	withTimeout
} from './support.mjs';

const APP = process.env.APP_BIN;
const HOME = process.env.BENCH_HOME;
const DEMO_DIR = process.env.BENCH_DEMO_DIR;
const OUT = process.env.BENCH_OUT ?? '.';
const NOTIFY_LOG = process.env.NOTIFY_LOG;
const PORT = Number(process.env.BENCH_PORT ?? 4464);
const KEYSTROKE_WORDS = (process.env.BENCH_WORDS ?? '').split(',').filter(Boolean);
const ITEMS = Number(process.env.BENCH_ITEMS ?? 30);
const DEMO_SECONDS = Number(process.env.BENCH_DEMO_SECONDS ?? 100);
// BENCH_PHASES=keys,scroll,items,demo (default all) runs a subset (launch and memory always run).
const PHASES = new Set((process.env.BENCH_PHASES ?? 'keys,scroll,items,demo').split(','));
const want = (p) => PHASES.has(p);

const t0 = Date.now();
const mark = (what) => console.error(`[bench +${((Date.now() - t0) / 1000).toFixed(1)} s] ${what}`);

// ---- statistics -----------------------------------------------------------------------------

function pct(xs, p) {
	if (xs.length === 0) return null;
	const s = [...xs].sort((a, b) => a - b);
	return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}
function summary(xs) {
	if (xs.length === 0) return { n: 0 };
	const r = (v) => Math.round(v * 10) / 10;
	return {
		n: xs.length,
		p50: r(pct(xs, 50)),
		p95: r(pct(xs, 95)),
		p99: r(pct(xs, 99)),
		max: r(Math.max(...xs)),
		mean: r(xs.reduce((a, b) => a + b, 0) / xs.length)
	};
}

// ---- processes (RSS) ------------------------------------------------------------------------

function procChildren() {
	const kids = new Map();
	for (const d of readdirSync('/proc')) {
		if (!/^\d+$/.test(d)) continue;
		try {
			const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
			const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
			if (!kids.has(ppid)) kids.set(ppid, []);
			kids.get(ppid).push(Number(d));
		} catch {
			/* gone */
		}
	}
	return kids;
}
function descendants(pid, kids = procChildren()) {
	const out = [];
	for (const k of kids.get(pid) ?? []) out.push(k, ...descendants(k, kids));
	return out;
}
function procInfo(pid) {
	const comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
	const status = readFileSync(`/proc/${pid}/status`, 'utf8');
	const kb = (re, text) => Number((text.match(re) ?? [])[1] ?? 0);
	let pss = null;
	try {
		pss = kb(/^Pss:\s+(\d+) kB/m, readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
	} catch {
		/* no smaps_rollup */
	}
	return {
		pid,
		comm,
		rss_mb: kb(/^VmRSS:\s+(\d+) kB/m, status) / 1024,
		// File-backed pages (the SQLite cache mapped into memory, libraries) vs the heap.
		anon_mb: kb(/^RssAnon:\s+(\d+) kB/m, status) / 1024,
		file_mb: kb(/^RssFile:\s+(\d+) kB/m, status) / 1024,
		pss_mb: pss === null ? null : pss / 1024
	};
}
/** Memory of the process `pid` and everything under it (`null` when it is gone). */
function memoryOf(pid, kids = procChildren()) {
	const procs = [pid, ...descendants(pid, kids)]
		.map((p) => {
			try {
				return procInfo(p);
			} catch {
				return null; // gone
			}
		})
		.filter(Boolean);
	if (procs.length === 0 || procs[0].pid !== pid) return null;
	const r = (v) => Math.round(v * 10) / 10;
	return {
		processes: procs.map((p) => ({
			pid: p.pid,
			comm: p.comm,
			rss_mb: r(p.rss_mb),
			anon_mb: r(p.anon_mb),
			file_mb: r(p.file_mb),
			pss_mb: p.pss_mb === null ? null : r(p.pss_mb)
		})),
		rss_sum_mb: r(procs.reduce((a, p) => a + p.rss_mb, 0)),
		pss_sum_mb: procs.every((p) => p.pss_mb !== null) ? r(procs.reduce((a, p) => a + p.pss_mb, 0)) : null
	};
}

/** The app (a descendant of our tauri-driver named stockpulse-app) and everything under it. */
function appMemory(driverPid) {
	const kids = procChildren();
	const app = descendants(driverPid, kids).find((p) => {
		try {
			return readFileSync(`/proc/${p}/comm`, 'utf8').startsWith('stockpulse-app');
		} catch {
			return false;
		}
	});
	return app === undefined ? null : memoryOf(app, kids);
}

// ---- WebDriver --------------------------------------------------------------------------------

/** tauri-driver (`{ process, stop }`, see e2e/support.mjs) and the session through it. */
let driver;
let browser;

async function startDriver() {
	driver = await startTauriDriver({ port: PORT });
}

async function stopDriver() {
	if (browser) await endSession(browser);
	browser = null;
	await driver?.stop();
}

async function session(args) {
	return startSession({ app: APP, args, port: PORT, ms: 90000 });
}

/** Runs `fn(arg, done)` in the page with a deadline of its own. */
async function inPage(ms, what, fn, ...args) {
	return withTimeout(browser.executeAsync(fn, ...args), ms, what);
}

async function invoke(cmd, args = {}) {
	const r = await browser.executeAsync(
		(cmd, args, done) => {
			window.__TAURI_INTERNALS__.invoke(cmd, args).then((ok) => done({ ok }), (err) => done({ err }));
		},
		cmd,
		args
	);
	if ('err' in r) throw new Error(`${cmd}: ${JSON.stringify(r.err)}`);
	return r.ok;
}

// ---- in-page measurements ---------------------------------------------------------------------
// Each function below is serialised into the page: it must not close over anything.

/** Waits for the first painted row; `already` when rows were there before the observer. */
function pageFirstRows(done) {
	const sel = '[role=row][data-sku]';
	const nav = () => {
		const n = performance.getEntriesByType('navigation')[0];
		return n ? { domContentLoaded: n.domContentLoadedEventEnd, load: n.loadEventEnd } : null;
	};
	const finish = (already, tRows) =>
		requestAnimationFrame(() => {
			const tRaf = performance.now();
			setTimeout(
				() =>
					done({
						already,
						tRows,
						tRaf,
						tPaint: performance.now(),
						wallPaint: Date.now(),
						installedAt: installed,
						nav: nav(),
						href: location.href
					}),
				0
			);
		});
	const installed = performance.now();
	if (document.querySelector(sel)) return finish(true, installed);
	const mo = new MutationObserver(() => {
		if (document.querySelector(sel)) {
			const t = performance.now();
			mo.disconnect();
			finish(false, t);
		}
	});
	mo.observe(document.documentElement, { childList: true, subtree: true });
}

/** Asks the app to record every command's round trip in `window.__ipc` as [cmd, start, end]:
 * the bench splits a keystroke into IPC (query + serialisation + transport) and rendering. */
function pageTimeIpc(done) {
	// The app's backend module records into this array when it exists (opt-in, see
	// ui/src/lib/backend/index.ts: Tauri's own invoke cannot be wrapped, it is read-only).
	window.__ipc ??= [];
	done(true);
}

/**
 * Types `word` into the search box one character at a time (after clearing it), timing each
 * keystroke from the input event's dispatch to the frame after the grid shows the new
 * query's rows. The grid is `aria-busy` from the keystroke until the new query's rows are in
 * the DOM (the previous rows stay on screen meanwhile), so "rows reflect the new text" is:
 * busy came and went.
 */
function pageType(word, done) {
	const input = document.querySelector('input[type=search]');
	const grid = document.querySelector('[role=grid]');
	const sel = '[role=row][data-sku]';
	const one = (value) =>
		new Promise((resolve) => {
			let sawBusy = false;
			let finished = false;
			const t0 = { v: 0 };
			const end = (rec) => {
				if (finished) return;
				finished = true;
				mo.disconnect();
				clearTimeout(timer);
				resolve(rec);
			};
			const check = () => {
				if (finished) return;
				if (grid.getAttribute('aria-busy') === 'true') {
					sawBusy = true;
					return;
				}
				if (!sawBusy) return;
				const rows = grid.querySelectorAll(sel);
				const tRows = performance.now();
				finished = true;
				mo.disconnect();
				clearTimeout(timer);
				const first = rows[0]?.dataset.sku ?? null;
				const n = rows.length;
				requestAnimationFrame(() => {
					const tRaf = performance.now();
					setTimeout(
						() =>
							resolve({
								value,
								ms: performance.now() - t0.v,
								rows_ms: tRows - t0.v,
								raf_ms: tRaf - t0.v,
								rows: n,
								first,
								// The `search` round trips this keystroke caused (first: the one
								// that answered the new text; its end is when rendering began).
								ipc: (window.__ipc ?? [])
									.filter((x) => x[0] === 'search' && x[1] >= t0.v && x[2] !== null && x[2] <= tRows)
									.map((x) => ({ start_ms: x[1] - t0.v, end_ms: x[2] - t0.v }))
							}),
						0
					);
				});
			};
			const mo = new MutationObserver(check);
			mo.observe(grid, { childList: true, subtree: true, attributes: true, attributeFilter: ['aria-busy'] });
			const timer = setTimeout(() => end({ value, timeout: true }), 10000);
			input.value = value;
			t0.v = performance.now();
			input.dispatchEvent(
				new InputEvent('input', { bubbles: true, inputType: 'insertText', data: value.slice(-1) })
			);
		});
	(async () => {
		const out = [];
		// Clear (not timed) and wait for the unfiltered rows.
		if (input.value !== '') await one('');
		for (let i = 1; i <= word.length; i++) out.push(await one(word.slice(0, i)));
		await one('');
		return out;
	})().then(done, (e) => done({ error: String(e) }));
}

/**
 * Scrolls the grid's viewport programmatically in rAF: `phases` of [name, frames, px per
 * frame or 'jump']. Records every frame interval (rAF timestamps) and the row elements in
 * the DOM at each frame, and the placeholder ("Loading…") rows 100 ms after each phase.
 */
function pageScroll(phases, done) {
	const vp = document.querySelector('[role=grid] .viewport');
	const results = [];
	let seed = 7;
	const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
	const runPhase = ([name, frames, px]) =>
		new Promise((resolve) => {
			const intervals = [];
			const rows = [];
			const placeholders = [];
			let last = null;
			let i = 0;
			const max = () => vp.scrollHeight - vp.clientHeight;
			const step = (ts) => {
				if (last !== null) intervals.push(ts - last);
				last = ts;
				rows.push(vp.querySelectorAll('[role=row]').length);
				placeholders.push(vp.querySelectorAll('[role=row].placeholder').length);
				if (i++ >= frames) {
					setTimeout(() => {
						resolve({
							name,
							px,
							intervals,
							rows,
							placeholders,
							blank_after_100ms: vp.querySelectorAll('[role=row].placeholder').length,
							scrollTop: vp.scrollTop,
							scrollHeight: vp.scrollHeight
						});
					}, 100);
					return;
				}
				if (px === 'jump') {
					if (i % 10 === 1) vp.scrollTop = Math.floor(rand() * max());
				} else {
					let next = vp.scrollTop + px;
					if (next > max()) next = 0;
					vp.scrollTop = next;
				}
				requestAnimationFrame(step);
			};
			requestAnimationFrame(step);
		});
	(async () => {
		vp.scrollTop = 0;
		await new Promise((r) => setTimeout(r, 300));
		for (const p of phases) results.push(await runPhase(p));
		vp.scrollTop = 0;
		return results;
	})().then(done, (e) => done({ error: String(e) }));
}

/**
 * The peer of the grid's scrolling: the same rows (clones of the grid's row elements, same
 * classes and so the same styles) as STATIC DOM in a clone of the viewport laid over it,
 * scrolled natively at the same `px` per frame with no script work at all. Its frame times
 * are what this web view under Xvfb can do for rows of this markup; the grid's are compared
 * with them (`idle` frames, no scrolling, are the floor of rAF itself).
 */
function pageScrollPeer(frames, px, done) {
	const vp = document.querySelector('[role=grid] .viewport');
	const deadline = performance.now() + 10000;
	const wait = () => {
		if (vp.querySelectorAll('[role=row][data-sku]').length > 0) run();
		else if (performance.now() > deadline) done({ error: 'no rows to clone' });
		else setTimeout(wait, 50);
	};
	wait();
	function run() {
	const rows = [...vp.querySelectorAll('[role=row][data-sku]')];
	const rect = vp.getBoundingClientRect();
	const peer = vp.cloneNode(false);
	peer.removeAttribute('role');
	Object.assign(peer.style, {
		position: 'fixed',
		left: `${rect.left}px`,
		top: `${rect.top}px`,
		width: `${rect.width}px`,
		height: `${rect.height}px`,
		zIndex: '1000',
		background: getComputedStyle(vp.closest('[role=grid]')).backgroundColor || 'white'
	});
	const spacer = vp.firstElementChild.cloneNode(false);
	const need = Math.ceil((frames * px + rect.height) / 32) + 2;
	spacer.style.height = `${need * 32}px`;
	const list = vp.firstElementChild.firstElementChild.cloneNode(false);
	list.style.transform = 'none';
	list.removeAttribute('role');
	for (let i = 0; i < need; i++) {
		const r = rows[i % rows.length].cloneNode(true);
		r.removeAttribute('role');
		r.removeAttribute('data-sku');
		list.appendChild(r);
	}
	spacer.appendChild(list);
	peer.appendChild(spacer);
	document.body.appendChild(peer);
	const intervals = [];
	let last = null;
	let i = 0;
	const step = (ts) => {
		if (last !== null) intervals.push(ts - last);
		last = ts;
		if (i++ >= frames) {
			peer.remove();
			return done({ intervals, elements: need });
		}
		peer.scrollTop += px;
		requestAnimationFrame(step);
	};
	// Let the static list lay out and paint once before timing.
	setTimeout(() => requestAnimationFrame(step), 300);
	}
}

/** Moves the selection one row down (ArrowDown on the grid) and opens it (Enter); times
 * Enter → the item's uPlot canvas drawn (sized, with pixels) and the frame after. */
function pageOpenNext(done) {
	const errors = [];
	const onErr = (e) => errors.push(String(e.reason ?? e.error ?? e.message).slice(0, 300));
	window.addEventListener('error', onErr);
	window.addEventListener('unhandledrejection', onErr);
	const grid = document.querySelector('[role=grid]');
	grid.focus();
	grid.dispatchEvent(new KeyboardEvent('keydown', { key: 'ArrowDown', bubbles: true, cancelable: true }));
	const selected = grid.querySelector('[role=row][aria-selected=true]')?.dataset.sku ?? null;
	let finished = false;
	const drawn = (c) => {
		try {
			const ctx = c.getContext('2d');
			const d = ctx.getImageData(0, 0, c.width, c.height).data;
			for (let i = 3; i < d.length; i += 64) if (d[i] !== 0) return true;
		} catch {
			/* unreadable */
		}
		return false;
	};
	const check = () => {
		if (finished) return;
		const c = document.querySelector('.chart canvas');
		if (!c || c.width === 0 || c.height === 0) return;
		finished = true;
		mo.disconnect();
		clearTimeout(timer);
		const tCanvas = performance.now();
		requestAnimationFrame(() => {
			const tRaf = performance.now();
			setTimeout(() => {
				const tPaint = performance.now();
				done({
					selected,
					sku: decodeURIComponent(location.pathname.replace(/^\/item\//, '')),
					ms: tPaint - t0,
					canvas_ms: tCanvas - t0,
					raf_ms: tRaf - t0,
					drawn: drawn(c),
					width: c.width,
					height: c.height
				});
			}, 0);
		});
	};
	const mo = new MutationObserver(check);
	mo.observe(document.body, { childList: true, subtree: true, attributes: true });
	const timer = setTimeout(() => {
		finished = true;
		mo.disconnect();
		const c = document.querySelector('.chart canvas');
		done({
			selected,
			timeout: true,
			href: location.href,
			canvas: c ? [c.width, c.height] : null,
			chart: !!document.querySelector('.chart'),
			errors,
			text: document.querySelector('main')?.innerText?.slice(0, 300) ?? document.body.innerText.slice(0, 300)
		});
	}, 10000);
	const t0 = performance.now();
	grid.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true, cancelable: true }));
}

/** Esc (the app's "back"), then waits for the grid's rows. */
function pageBack(done) {
	document.activeElement?.blur?.();
	window.dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape', bubbles: true, cancelable: true }));
	const deadline = performance.now() + 10000;
	const poll = () => {
		const rows = document.querySelectorAll('[role=grid] [role=row][data-sku]');
		if (rows.length > 0 && !document.querySelector('.chart')) {
			requestAnimationFrame(() => done(true));
		} else if (performance.now() > deadline) done(false);
		else setTimeout(poll, 10);
	};
	poll();
}

/** Subscribes to the app's live feed on a raw channel (as @tauri-apps/api's Channel builds
 * one) and watches the grid's rows: for each row, when it first got the `flash` class and
 * when its status badge first read "Out of stock" after the watch began. */
function pageWatchLive(done) {
	window.__bench = { events: [], rows: {} };
	const b = window.__bench;
	const id = window.__TAURI_INTERNALS__.transformCallback((raw) => {
		const e = raw && typeof raw === 'object' && 'message' in raw ? raw.message : raw;
		if (!e || typeof e !== 'object') return;
		b.events.push({
			type: e.type,
			sku: e.sku ?? null,
			at: e.at,
			location: e.location_name ?? null,
			finished_at: e.finished_at ?? null,
			strategy: e.strategy ?? null,
			recv: Date.now()
		});
	});
	const grid = document.querySelector('[role=grid]');
	const scan = () => {
		const now = Date.now();
		for (const row of grid.querySelectorAll('[role=row][data-sku]')) {
			const sku = row.dataset.sku;
			const r = (b.rows[sku] ??= { out_at_start: null, flash: null, out: null });
			const isOut = /Out of stock/.test(row.querySelector('.badge')?.textContent ?? '');
			if (r.out_at_start === null) r.out_at_start = isOut;
			if (isOut && !r.out_at_start && r.out === null) r.out = now;
			if (row.classList.contains('flash') && r.flash === null) r.flash = now;
		}
	};
	const mo = new MutationObserver(scan);
	mo.observe(grid, { childList: true, subtree: true, attributes: true, attributeFilter: ['class'], characterData: true });
	scan();
	window.__TAURI_INTERNALS__.invoke('subscribe_events', { onEvent: `__CHANNEL__:${id}` }).then(
		() => done(true),
		(e) => done({ error: e })
	);
}

/** A picture of the window from the X server, best effort (see e2e/support.mjs `windowShot`:
 * WebDriver's own screenshot never answers when the web view draws without compositing). */
async function shot(path) {
	try {
		await windowShot(path);
	} catch (e) {
		mark(`screenshot ${path}: ${e.message}`);
	}
}

// ---- phases ----------------------------------------------------------------------------------

const figures = { build: process.env.BENCH_BUILD ?? 'debug', started: new Date().toISOString() };

function notifyCalls() {
	if (!NOTIFY_LOG || !existsSync(NOTIFY_LOG)) return [];
	const text = readFileSync(NOTIFY_LOG, 'utf8');
	const calls = [];
	for (const block of text.split(/\n(?=method call |signal |method return |error )/)) {
		const m = block.match(/^method call time=(\d+\.\d+) .*member=Notify/);
		if (!m) continue;
		const strings = [...block.matchAll(/^\s+string "(.*)"$/gm)].map((x) => x[1]);
		calls.push({ wall: Number(m[1]) * 1000, summary: strings[2] ?? '', body: strings[3] ?? '' });
	}
	return calls;
}

/** A stand-in Finale on loopback that rejects every request with 401: the engine gives up at
 * once (no retries), so the offline workstation's scheduled sync stays a blip every minute or
 * more instead of minutes of retries competing with the measurements. */
async function rejectingFinale() {
	const srv = http.createServer((req, res) => {
		res.writeHead(401, { 'content-type': 'application/json' });
		res.end('{"errorMessage":"benchmark: no Finale here"}');
	});
	await new Promise((r) => srv.listen(0, '127.0.0.1', r));
	return srv;
}

async function bench100k() {
	const finale = await rejectingFinale();
	process.env.FINALE_BASE_URL = `http://127.0.0.1:${finale.address().port}`;
	try {
		await bench100kSession();
		figures.memory_standalone = await standaloneMemory();
		mark(`memory, app alone at rest: ${JSON.stringify(figures.memory_standalone)}`);
	} finally {
		finale.close();
	}
}

/**
 * The app's memory at rest WITHOUT WebDriver: started directly (same environment, same 100k
 * cache), left alone for `BENCH_REST_SECONDS` (default 10), measured, stopped. Under
 * WebKitWebDriver the app also hosts the automation session, whose memory is the driver's,
 * not the app's (it grew by hundreds of MB over a run while the app alone stays flat).
 */
async function standaloneMemory() {
	const seconds = Number(process.env.BENCH_REST_SECONDS ?? 10);
	const app = spawn(APP, [], { stdio: ['ignore', 'ignore', 'ignore'], env: process.env });
	try {
		await sleep(seconds * 1000);
		const m = memoryOf(app.pid);
		return m && { after_s: seconds, ...m };
	} finally {
		const exited = new Promise((res) => app.once('exit', res));
		app.kill('SIGTERM');
		await withTimeout(exited, 10000, 'the standalone app to stop').catch(() => app.kill('SIGKILL'));
	}
}

async function bench100kSession() {
	await startDriver();
	const spawnAt = Date.now();
	browser = await session([]);
	const sessionMs = Date.now() - spawnAt;
	mark(`session started in ${sessionMs} ms`);
	await browser.setTimeout({ script: 600000 });
	// The first document may still be loading: retry until the observer runs in the app's page.
	const first = await eventually(60000, 'the first rows', async () => {
		const r = await inPage(60000, 'first rows', pageFirstRows);
		return r && /tauri|localhost/.test(r.href) ? r : null;
	}, 100);
	const launch = {
		session_ms: sessionMs,
		spawn_to_rows_painted_ms: Math.round(first.wallPaint - spawnAt),
		ui_navigation_to_rows_painted_ms: Math.round(first.tPaint),
		ui_navigation_to_rows_in_dom_ms: Math.round(first.tRows),
		dom_content_loaded_ms: first.nav ? Math.round(first.nav.domContentLoaded) : null,
		rows_were_already_there: first.already,
		observer_installed_ms: Math.round(first.installedAt)
	};
	figures.launch = launch;
	mark(`first rows: ${JSON.stringify(launch)}`);
	const status = await invoke('app_status').catch((e) => ({ error: String(e) }));
	const dash = await invoke('dashboard').catch(() => null);
	figures.cache = { items: dash?.items?.total ?? null, mode: status.mode ?? null, demo: status.demo ?? null };
	mark(`cache: ${JSON.stringify(figures.cache)}`);

	await sleep(5000);
	figures.memory_at_rest = appMemory(driver.process.pid);
	mark(`memory at rest: ${JSON.stringify(figures.memory_at_rest)}`);
	await shot(join(OUT, 'grid-100k.png'));

	if (want('keys')) await benchKeys();
	if (want('scroll')) await benchScroll();
	if (want('items')) await benchItems();
	if (want('ipc')) await benchIpcOnly();

	await sleep(5000);
	figures.memory_after_use = appMemory(driver.process.pid);
	mark(`memory after use: ${JSON.stringify(figures.memory_after_use)}`);
	await stopDriver();
}

async function benchKeys() {
	// Keystrokes: SKU prefixes, names, barcodes and supplier SKUs (the fixture's shapes).
	const words = KEYSTROKE_WORDS.length
		? KEYSTROKE_WORDS
		: [
				'SKU-04217',
				'SKU-09998',
				'SKU-00123',
				'SKU-07777',
				'sku-05555',
				'widget',
				'bracket',
				'valve',
				'gasket',
				'steel hinge',
				'oak',
				'carbon spring',
				'mini clamp',
				'deluxe cable',
				'100003',
				'V07-1',
				'sprocket'
			];
	await inPage(10000, 'timing IPC', pageTimeIpc);
	const strokes = [];
	for (const w of words) {
		const r = await inPage(120000, `typing ${w}`, pageType, w);
		if (r.error) throw new Error(`typing ${w}: ${r.error}`);
		strokes.push(...r);
	}
	const timedOut = strokes.filter((s) => s.timeout);
	const ok = strokes.filter((s) => !s.timeout);
	figures.keystroke = {
		words,
		painted_ms: summary(ok.map((s) => s.ms)),
		rows_in_dom_ms: summary(ok.map((s) => s.rows_ms)),
		timeouts: timedOut.map((s) => s.value),
		first_keystroke_ms: ok[0]?.ms ?? null,
		// Input → the answering `search` resolved (query, serialisation, transport), and
		// from there → the frame after the rows were painted (Svelte, layout, paint).
		input_to_search_answer_ms: summary(ok.filter((s) => s.ipc?.length).map((s) => s.ipc[s.ipc.length - 1].end_ms)),
		search_round_trip_ms: summary(ok.filter((s) => s.ipc?.length).map((s) => s.ipc[s.ipc.length - 1].end_ms - s.ipc[s.ipc.length - 1].start_ms)),
		answer_to_painted_ms: summary(ok.filter((s) => s.ipc?.length).map((s) => s.ms - s.ipc[s.ipc.length - 1].end_ms)),
		slowest: [...ok].sort((a, b) => b.ms - a.ms).slice(0, 5).map((s) => ({ value: s.value, ms: Math.round(s.ms) }))
	};
	mark(`keystrokes: ${JSON.stringify(figures.keystroke.painted_ms)}`);
}

async function benchScroll() {

	// Scrolling.
	const phases = [
		['idle (no scrolling: the rAF floor)', 120, 0],
		['steady 32 px/frame', 600, 32],
		['fast 320 px/frame', 300, 320],
		['jumps (random offset every 10 frames)', 300, 'jump']
	];
	const scroll = await inPage(300000, 'scrolling', pageScroll, phases);
	if (scroll.error) throw new Error(`scrolling: ${scroll.error}`);
	figures.scroll = scroll.map((p) => ({
		phase: p.name,
		frames: p.intervals.length,
		frame_ms: summary(p.intervals),
		frames_over_16_7ms: p.intervals.filter((x) => x > 16.7 + 1).length,
		frames_over_33ms: p.intervals.filter((x) => x > 33.4).length,
		dom_rows: { max: Math.max(...p.rows), min: Math.min(...p.rows), p50: pct(p.rows, 50) },
		placeholder_rows_max: Math.max(...p.placeholders),
		frames_with_placeholders: p.placeholders.filter((x) => x > 0).length,
		blank_rows_100ms_after_stop: p.blank_after_100ms,
		scroll_height_px: p.scrollHeight
	}));
	const peer = await inPage(120000, 'scrolling the static peer', pageScrollPeer, 600, 32);
	if (peer.error) throw new Error(`peer: ${peer.error}`);
	const steady = scroll.find((p) => p.px === 32);
	figures.scroll_peer = {
		what: 'the same rows as static DOM, scrolled natively 32 px/frame, no script',
		rows: peer.elements,
		frame_ms: summary(peer.intervals),
		// The grid's steady scroll over its static peer (1.0: virtualisation costs nothing).
		grid_over_peer_p50: steady ? Math.round((pct(steady.intervals, 50) / pct(peer.intervals, 50)) * 100) / 100 : null,
		grid_over_peer_p95: steady ? Math.round((pct(steady.intervals, 95) / pct(peer.intervals, 95)) * 100) / 100 : null
	};
	mark(`scroll peer: ${JSON.stringify(figures.scroll_peer)}`);
	const all = scroll.filter((p) => p.px !== 0).flatMap((p) => p.intervals);
	figures.scroll_all = { frame_ms: summary(all), dom_rows_max: Math.max(...scroll.flatMap((p) => p.rows)) };
	mark(`scroll: ${JSON.stringify(figures.scroll_all)}`);
}

/** Memory diagnosis (BENCH_PHASES=ipc, not in the default set): the commands the screens use,
 * many times, with nothing rendered, and the app's memory before and after. */
async function benchIpcOnly() {
	const before = appMemory(driver.process.pid);
	const q = { text: null, filters: { out_of_stock: false, below_reorder: false, critical: false, location: null, supplier: null, status: null }, sort: null, dir: 'asc', limit: 200, after: null };
	let after = null;
	const skus = [];
	for (let i = 0; i < 300; i++) {
		const p = await invoke('search', { query: { ...q, after } });
		if (skus.length < 300) skus.push(p.rows[0].sku);
		after = p.next_cursor;
		if (!after) break;
	}
	const mid = appMemory(driver.process.pid);
	for (const sku of skus) await invoke('item', { sku });
	await sleep(5000);
	const afterItems = appMemory(driver.process.pid);
	await sleep(30000);
	figures.ipc_only = { pages: skus.length, before: before?.processes?.[0], after_search: mid?.processes?.[0], after_items: afterItems?.processes?.[0], after_35s_idle: appMemory(driver.process.pid)?.processes?.[0] };
	mark(`ipc only: ${JSON.stringify(figures.ipc_only)}`);
}

async function benchItems() {

	// Item opens: ArrowDown + Enter from the grid, Esc back.
	await inPage(60000, 'clearing the search', pageType, '');
	const opens = [];
	for (let i = 0; i < ITEMS; i++) {
		const r = await inPage(20000, 'opening an item', pageOpenNext);
		opens.push(r);
		if (i === 0) await shot(join(OUT, 'item-100k.png'));
		const back = await inPage(20000, 'going back', pageBack);
		if (!back) throw new Error('the grid did not come back after Esc');
		// Three failures in a row: the item screen is broken, not slow; say so and stop.
		if (opens.length >= 3 && opens.slice(-3).every((o) => o.timeout)) break;
	}
	mark(`first open: ${JSON.stringify(opens[0])}`);
	const opened = opens.filter((o) => !o.timeout);
	figures.item_open = {
		items: opens.length,
		painted_ms: summary(opened.map((o) => o.ms)),
		canvas_in_dom_ms: summary(opened.map((o) => o.canvas_ms)),
		drawn: opened.filter((o) => o.drawn).length,
		timeouts: opens.filter((o) => o.timeout).length,
		first_open_ms: opened[0]?.ms ?? null,
		failure: opens.find((o) => o.timeout)
			? { href: opens.find((o) => o.timeout).href, errors: opens.find((o) => o.timeout).errors }
			: null,
		skus: opened.slice(0, 5).map((o) => o.sku)
	};
	mark(`item open: ${JSON.stringify(figures.item_open.painted_ms)}`);
}

async function benchDemo() {
	await startDriver();
	browser = await session(['--demo', '--data-dir', DEMO_DIR]);
	await browser.setTimeout({ script: 600000 });
	mark('demo session started');
	// Wait for the demo's initial load to fill the grid.
	await eventually(180000, 'demo rows', async () =>
		browser.execute(() => document.querySelectorAll('[role=grid] [role=row][data-sku]').length > 0)
	, 500);
	// Sort by on hand, ascending, and scroll to the first rows with stock: the demo sells out
	// the active item with the least stock on hand, so the next stockouts sit in view.
	await browser.execute(() => {
		const b = [...document.querySelectorAll('[role=columnheader] button')].find((x) => /On hand/.test(x.textContent));
		b?.click();
	});
	await sleep(1500);
	let firstPositive = 0;
	{
		let after = null;
		let index = 0;
		outer: for (let page = 0; page < 20; page++) {
			const p = await invoke('search', {
				query: { text: null, filters: { out_of_stock: false, below_reorder: false, critical: false, location: null, supplier: null, status: null }, sort: 'on_hand', dir: 'asc', limit: 200, after }
			});
			for (const r of p.rows) {
				if (r.on_hand > 0) {
					firstPositive = index;
					break outer;
				}
				index++;
			}
			if (!p.next_cursor) break;
			after = p.next_cursor;
		}
	}
	await browser.execute((i) => {
		const vp = document.querySelector('[role=grid] .viewport');
		vp.scrollTop = Math.max(0, (i - 3) * 32);
	}, firstPositive);
	await sleep(1500);
	const watching = await inPage(20000, 'subscribing', pageWatchLive);
	if (watching !== true) throw new Error(`subscribe_events: ${JSON.stringify(watching)}`);
	const watchStart = Date.now();
	mark(`watching stockouts for ${DEMO_SECONDS} s (grid sorted by on hand, from row ${firstPositive})`);
	await shot(join(OUT, 'demo-grid.png'));
	await sleep(DEMO_SECONDS * 1000);
	const live = await browser.execute(() => window.__bench);
	await shot(join(OUT, 'demo-after.png'));
	const calls = notifyCalls().filter((c) => c.wall >= watchStart - 1000);
	const outs = live.events.filter((e) => e.type === 'stocked_out');
	// The commit: the sync run (the demo's stock pulse) that wrote the change finished, and
	// committed, at its finished_at; the event's `at` is when the follower (polling every
	// 25 ms) derived it from the committed rows.
	const runs = live.events
		.filter((e) => e.type === 'sync_finished' && e.finished_at)
		.map((e) => ({ finished: Date.parse(e.finished_at), strategy: e.strategy }));
	// One stockout per item: the item-wide event (no location) when there is one.
	const perItem = new Map();
	for (const e of outs) if (!perItem.has(e.sku) || e.location === null) perItem.set(e.sku, e);
	const stockouts = [];
	for (const e of perItem.values()) {
		const at = Date.parse(e.at);
		// The run that wrote it: the last one finished by the event, or up to 100 ms after it
		// (a run's record is stamped finished after its data commits, and the follower may
		// derive the event in between: then the commit is before `finished_at`, and the figure
		// below is an upper bound; matching only runs finished before the event attributed such
		// a stockout to the previous run, 5 s earlier).
		const run = runs.filter((r) => r.finished <= at + 100).sort((a, b) => b.finished - a.finished)[0];
		const commit = run ? run.finished : null;
		const row = live.rows[e.sku];
		const notify = calls.find((c) => c.summary.includes(e.sku) || c.body.includes(e.sku));
		const laterNotify = notify ?? calls.find((c) => c.wall >= at && /need attention/.test(c.summary));
		stockouts.push({
			sku: e.sku,
			location: e.location,
			at: e.at,
			run_finished: commit === null ? null : new Date(commit).toISOString(),
			commit_to_event_ms: commit === null ? null : at - commit,
			commit_to_row_ms: commit !== null && row?.out != null ? row.out - commit : null,
			commit_to_notify_ms: commit !== null && laterNotify ? Math.round(laterNotify.wall - commit) : null,
			event_received_ms: e.recv - at,
			row_in_dom: row ? true : false,
			row_flash_ms: row?.flash != null ? row.flash - at : null,
			row_out_of_stock_ms: row?.out != null ? row.out - at : null,
			notify_ms: laterNotify ? Math.round(laterNotify.wall - at) : null,
			notify_summary: laterNotify?.summary ?? null
		});
	}
	const nums = (k) => stockouts.map((s) => s[k]).filter((v) => typeof v === 'number' && v >= -1000);
	figures.stock_change = {
		watched_s: DEMO_SECONDS,
		stock_changed_events: live.events.filter((e) => e.type === 'stock_changed').length,
		stocked_out_events: outs.length,
		notify_calls: calls.length,
		stockouts,
		event_received_ms: summary(nums('event_received_ms')),
		row_updated_ms: summary(nums('row_flash_ms')),
		row_out_of_stock_ms: summary(nums('row_out_of_stock_ms')),
		notify_ms: summary(nums('notify_ms')),
		commit_to_row_ms: summary(nums('commit_to_row_ms')),
		commit_to_notify_ms: summary(nums('commit_to_notify_ms'))
	};
	mark(`stockouts: ${JSON.stringify(stockouts)}`);
	await stopDriver();
}

// ---- the table -------------------------------------------------------------------------------

function table() {
	const f = figures;
	const ms = (v) => (v === null || v === undefined ? 'n/a' : `${Math.round(v)} ms`);
	const p = (s) => (s && s.n ? `p50 ${s.p50} / p95 ${s.p95} / max ${s.max} ms (n=${s.n})` : 'n/a');
	const mem = (m) =>
		m
			? `${m.rss_sum_mb} MB (PSS ${m.pss_sum_mb} MB): ${m.processes.map((x) => `${x.comm} ${x.rss_mb} (anon ${x.anon_mb}, file ${x.file_mb})`).join(', ')}`
			: 'n/a';
	const rows = [
		['build', f.build, ''],
		['items in the cache', String(f.cache?.items ?? 'n/a'), ''],
		['launch → first rows painted', ms(f.launch?.spawn_to_rows_painted_ms), '≤ 1.5 s (anchor)'],
		['  UI only: navigation start → rows painted', ms(f.launch?.ui_navigation_to_rows_painted_ms), ''],
		['keystroke → rows painted', p(f.keystroke?.painted_ms), 'p95 ≤ 50 ms'],
		['  input → search answered (IPC round trip)', `${p(f.keystroke?.input_to_search_answer_ms)}; round trip ${p(f.keystroke?.search_round_trip_ms)}`, ''],
		['  search answered → rows painted', p(f.keystroke?.answer_to_painted_ms), ''],
		...(f.scroll ?? []).map((s) => [
			`scroll frames, ${s.phase}`,
			`${p(s.frame_ms)}; DOM rows ≤ ${s.dom_rows.max}; frames > 16.7 ms: ${s.frames_over_16_7ms}`,
			'p95 ≤ 16.7 ms, ≤ 60 rows'
		]),
		['scroll frames, static peer (same rows, no script)', `${p(f.scroll_peer?.frame_ms)}; grid/peer p50 ${f.scroll_peer?.grid_over_peer_p50}×, p95 ${f.scroll_peer?.grid_over_peer_p95}×`, ''],
		['scroll frames, all', `${p(f.scroll_all?.frame_ms)}; DOM rows ≤ ${f.scroll_all?.dom_rows_max}`, 'p95 ≤ 16.7 ms'],
		['item open → chart painted', f.item_open?.painted_ms?.n ? p(f.item_open.painted_ms) : `n/a${f.item_open?.failure ? ` (item screen failed: ${f.item_open.failure.errors?.[0] ?? 'no chart'})` : ''}`, 'p95 ≤ 100 ms'],
		['stock change committed (run finished) → row shows Out of stock', p(f.stock_change?.commit_to_row_ms), '≤ 1 s'],
		['stock change committed (run finished) → Notify on D-Bus', p(f.stock_change?.commit_to_notify_ms), '≤ 1 s'],
		['  event derived (Envelope at) → row updated', p(f.stock_change?.row_updated_ms), ''],
		['  event derived (Envelope at) → Notify on D-Bus', p(f.stock_change?.notify_ms), ''],
		['RSS at rest, app alone (no WebDriver), 100k cache', mem(f.memory_standalone), ''],
		['RSS at rest under WebDriver (app + WebKit), 100k grid idle 5 s', mem(f.memory_at_rest), ''],
		['RSS after the run under WebDriver (idle 5 s)', mem(f.memory_after_use), '']
	];
	const w0 = Math.max(...rows.map((r) => r[0].length));
	return rows.map(([a, b, c]) => `${a.padEnd(w0)}  ${b}${c ? `   [goal ${c}]` : ''}`).join('\n');
}

// ---- main ------------------------------------------------------------------------------------

let failed = null;
try {
	if (!APP || !existsSync(APP)) throw new Error(`APP_BIN must name the built app (got ${APP})`);
	mkdirSync(OUT, { recursive: true });
	if (process.env.BENCH_SKIP_100K !== '1') await bench100k();
	if (want('demo')) await benchDemo();
} catch (e) {
	failed = e;
	figures.error = String(e?.stack ?? e);
	console.error(`bench: ${e?.stack ?? e}`);
	if (browser) await shot(join(OUT, 'failure.png'));
} finally {
	await stopDriver();
}
figures.finished = new Date().toISOString();
writeFileSync(join(OUT, 'figures.json'), `${JSON.stringify(figures, null, 2)}\n`);
console.log(`\nStockpulse app benchmark (${figures.build} build, Xvfb; figures, not assertions)\n`);
console.log(table());
console.log(`\nfigures: ${join(OUT, 'figures.json')}`);
process.exit(failed ? 1 : 0);
