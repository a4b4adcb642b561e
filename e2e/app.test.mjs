// The real app with demo data, end to end, driven through its UI like a user: clicks and keys
// through WebDriver. One app session for the whole file (start-up is the slow part): started
// by tauri-driver (which starts WebKitWebDriver, which starts the app) with
// `--demo --data-dir <fresh temp dir>`, under Xvfb with a D-Bus session and dunst.
// Commands are invoked directly only to READ state the UI cannot show (the demo's settings,
// an item's barcode when no row shows it).
//
// Run through scripts/e2e.sh, which sets:
//   APP_BIN       the built app binary
//   E2E_DATA_DIR  a fresh data directory
//   E2E_OUT       where screenshots go (stock.png, item.png, reorder.png, ...)
//   NOTIFY_LOG    dbus-monitor's capture of org.freedesktop.Notifications.Notify calls

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, existsSync } from 'node:fs';
import {
	connectionText,
	countText,
	eventually,
	gridSkus,
	invoke,
	mark,
	navigate,
	screenshot,
	search,
	sleep,
	startApp,
	visibleWindow
} from './support.mjs';

const APP = process.env.APP_BIN;
const DATA_DIR = process.env.E2E_DATA_DIR;
const NOTIFY_LOG = process.env.NOTIFY_LOG;

let browser;
let stop = async () => {};
/** An item of the demo (from the grid's first row): `{ sku, upc }`. */
let item;
/** The stockout whose notification test 6 counted, checked again at the end. */
let stockout;

before(async () => {
	assert.ok(APP && existsSync(APP), `APP_BIN must name the built app (got ${APP})`);
	assert.ok(DATA_DIR, 'E2E_DATA_DIR must be set');
	({ browser, stop } = await startApp({ app: APP, args: ['--demo', '--data-dir', DATA_DIR], port: 4444 }));
	mark('demo session started');
});

after(async () => {
	mark('closing the demo session');
	await stop();
	mark('stopped tauri-driver');
});

/** Notify calls captured so far whose summary is exactly `summary`. */
function notifyCount(summary) {
	const log = readFileSync(NOTIFY_LOG, 'utf8');
	return log.split(`string "${summary}"`).length - 1;
}

/** The stock screen with an empty search (whatever an earlier test left in the box). */
async function backToStock() {
	await navigate(browser, 'Stock', '/');
	await search(browser, '');
	await browser.$('[role="grid"] [role="row"][data-sku]').waitForExist({ timeout: 10000 });
}

test('1. first run with demo data: window, grid rows, connection state, data as of, demo badge', async () => {
	const ids = await eventually(10000, 'a window titled Stockpulse', () =>
		execFileSync('xdotool', ['search', '--name', '^Stockpulse$'], { encoding: 'utf8' }).trim()
	);
	assert.ok(ids.length > 0);

	// The demo's initial load fills the grid (no reload, no clicks).
	const skus = await eventually(120000, 'rows in the stock grid', async () => {
		const s = await gridSkus(browser);
		return s.length >= 10 ? s : null;
	});
	assert.ok(skus.every((s) => typeof s === 'string' && s.length > 0));
	assert.match(await countText(browser), /^[\d,]+\+? items$/);

	// Header: the connection state; footer: "Data as of <time>" and the demo badge.
	const conn = await eventually(30000, 'a connection state', async () => {
		const t = await connectionText(browser);
		return ['live', 'catching up', 'offline'].includes(t) ? t : null;
	});
	assert.equal(conn, 'live', 'the demo cache is local: live');
	const footer = await eventually(30000, '"Data as of" with a time', async () => {
		const t = await browser.$('footer').getText();
		return /Data as of (?!never).*\d/.test(t) ? t : null;
	});
	assert.match(footer, /demo data/);
	assert.doesNotMatch(footer, /offline/);

	// The command contract behind it (read only): demo mode in this data folder, typed errors.
	const status = await invoke(browser, 'app_status');
	assert.equal(status.demo, true);
	assert.equal(status.mode, 'embedded');
	assert.equal((await invoke(browser, 'settings')).data_dir, DATA_DIR);
	await assert.rejects(invoke(browser, 'health', { days: 0 }), (e) => e.payload?.code === 'invalid_input');

	const first = skus[0];
	const detail = await invoke(browser, 'item', { sku: first });
	assert.ok(detail.upc, `the demo's first item has a barcode (${first})`);
	item = { sku: first, upc: detail.upc };
	await screenshot(browser, 'stock');
});

test('2. search finds an item by SKU and by barcode (UPC) typed into the search box', async () => {
	assert.ok(item, 'needs test 1');
	for (const [what, text] of [
		['SKU', item.sku],
		['barcode', item.upc]
	]) {
		await search(browser, text);
		const skus = await eventually(10000, `the grid to show ${item.sku} for its ${what} ${text}`, async () => {
			const s = await gridSkus(browser);
			return s.includes(item.sku) && s.length <= 5 ? s : null;
		});
		assert.equal(skus[0], item.sku, `${what}: the best match comes first`);
	}
	// The typed text is in the box, not lost to a re-render.
	assert.equal(await browser.$('input[type="search"]').getValue(), item.upc);
});

test('3. open the item (click, Enter): its chart is drawn and its figures show; Esc goes back', async () => {
	assert.ok(item, 'needs test 1');
	await search(browser, item.sku);
	const row = await browser.$(`[role="grid"] [role="row"][data-sku="${item.sku}"]`);
	await row.waitForExist({ timeout: 10000 });
	await row.click();
	await eventually(3000, 'the row to be selected', async () => (await row.getAttribute('aria-selected')) === 'true');
	await browser.keys('Enter');
	await eventually(10000, 'the item screen', async () =>
		(await browser.execute(() => location.pathname)) === `/item/${encodeURIComponent(item.sku)}`
	);
	let shown = '';
	const title = await eventually(15000, 'the item title', async () => {
		shown = await browser.execute(() => document.querySelector('main')?.innerText.slice(0, 300));
		const t = await browser.$('#item-title');
		return (await t.isExisting()) ? t : null;
	}).catch((e) => {
		throw new Error(`${e.message}; the screen shows: ${JSON.stringify(shown)}`);
	});
	assert.match(await title.getText(), new RegExp(item.sku.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));

	// The uPlot canvas: laid out with a non-empty size, and something drawn on it.
	const canvas = await eventually(10000, 'a drawn chart', () =>
		browser.execute(() => {
			const c = document.querySelector('[role="img"] canvas');
			if (!c) return null;
			const r = c.getBoundingClientRect();
			const ctx = c.getContext('2d');
			const px = ctx.getImageData(0, 0, c.width, c.height).data;
			let painted = 0;
			for (let i = 3; i < px.length; i += 4) if (px[i] !== 0) painted++;
			return r.width > 0 && r.height > 0 && painted > 0 ? { w: r.width, h: r.height, painted } : null;
		})
	);
	assert.ok(canvas.w > 100 && canvas.h > 50, JSON.stringify(canvas));

	const fig = async (k) => (await browser.$(`dd[data-figure="${k}"]`).getText()).trim();
	assert.match(await fig('velocity_30d'), /^[\d.,]+\/day$/);
	assert.match(await fig('velocity_90d'), /^[\d.,]+\/day$/);
	assert.ok((await fig('days_of_stock')).length > 0, 'days of stock left shows');
	assert.ok((await fig('on_hand')).length > 0);
	await screenshot(browser, 'item');

	// Esc goes back to the stock screen, the search kept.
	await browser.$('body').click();
	await browser.keys('Escape');
	await eventually(5000, 'the stock screen again', async () =>
		(await browser.execute(() => location.pathname)) === '/'
	);
	await search(browser, '');
});

test('5. a stock change in the simulator updates the open table in place, with a highlight', async () => {
	await backToStock();
	await eventually(10000, 'the full list', async () => /^[\d,]+ items$/.test(await countText(browser)));
	// Watch the rendered rows: every number cell's change, and every highlight, on row
	// elements marked now (so "in place" means the same DOM nodes, no navigation or reload).
	await browser.execute(() => {
		window.__e2eNoReload = true;
		window.__e2eChanges = [];
		window.__e2eFlashes = [];
		const rows = document.querySelector('[role="grid"] .rows');
		for (const r of rows.querySelectorAll('[role="row"][data-sku]')) r.__e2eMarked = r.dataset.sku;
		const before = new Map();
		for (const c of rows.querySelectorAll('[role="gridcell"].on_hand, [role="gridcell"].available'))
			before.set(c, c.textContent);
		window.__e2eObserver = new MutationObserver((ms) => {
			for (const m of ms) {
				const el = m.target.nodeType === 1 ? m.target : m.target.parentElement;
				const row = el?.closest('[role="row"]');
				if (!row) continue;
				if (m.type === 'attributes' && el === row && row.classList.contains('flash'))
					window.__e2eFlashes.push(row.dataset.sku);
				const cell = el.closest('[role="gridcell"].on_hand, [role="gridcell"].available');
				if (cell && before.has(cell) && cell.textContent !== before.get(cell)) {
					window.__e2eChanges.push({
						sku: row.dataset.sku,
						marked: row.__e2eMarked,
						col: cell.classList.contains('on_hand') ? 'on_hand' : 'available',
						from: before.get(cell),
						to: cell.textContent
					});
					before.set(cell, cell.textContent);
				}
			}
		});
		window.__e2eObserver.observe(rows, {
			subtree: true,
			characterData: true,
			childList: true,
			attributes: true,
			attributeFilter: ['class']
		});
	});
	const visible = await gridSkus(browser);
	const change = await eventually(90000, 'a stock change in a visible row', async () => {
		const cs = await browser.execute(() => window.__e2eChanges);
		return cs.find((c) => c.marked === c.sku && visible.includes(c.sku)) ?? null;
	}, 500);
	mark(`stock change in place: ${JSON.stringify(change)}`);
	assert.notEqual(change.from, change.to);
	const state = await browser.execute(() => ({
		path: location.pathname,
		noReload: window.__e2eNoReload === true,
		flashes: window.__e2eFlashes
	}));
	assert.equal(state.path, '/', 'no navigation');
	assert.ok(state.noReload, 'no reload');
	assert.ok(state.flashes.includes(change.sku), `the changed row flashed (${state.flashes})`);
	// The row ends up showing what the cache holds (the patch, then the re-read).
	let seen;
	await eventually(10000, 'the row to agree with the cache', async () => {
		const text = await browser.execute(
			(sku, col) => document.querySelector(`[role="row"][data-sku="${sku}"] [role="gridcell"].${col}`)?.textContent,
			change.sku,
			change.col
		);
		const t = Number(String(text).trim().replace(/,/g, ''));
		const page = await invoke(browser, 'search', { query: { text: change.sku, limit: 1 } });
		seen = { shown: t, cache: page.rows[0]?.[change.col], sku: page.rows[0]?.sku };
		return seen.sku === change.sku && t === Math.round(seen.cache);
	}).catch((e) => {
		throw new Error(`${e.message}: ${JSON.stringify(seen)}`);
	});
	await browser.execute(() => window.__e2eObserver.disconnect());
});

test('4. a smart sync from the Sync screen runs to done and appears in the history', async () => {
	await navigate(browser, 'Sync', '/sync');
	const historyRows = () =>
		browser.execute(() => {
			const history = [...document.querySelectorAll('table.data')].at(-1);
			return [...(history?.querySelectorAll('tbody tr') ?? [])].map((tr) =>
				[...tr.querySelectorAll('td')].map((td) => td.textContent.trim())
			);
		});
	// The demo's own initial load shows in the history already.
	const before = await eventually(10000, 'the run history', async () => {
		const h = await historyRows();
		return h.length > 0 && h[0].length === 6 ? h : null;
	});
	const button = await browser.$('button=Smart sync');
	await eventually(60000, 'the Smart sync button to be enabled (no run going)', () => button.isEnabled());
	await button.click();
	const samples = [];
	const done = await eventually(60000, 'the progress to reach done', async () => {
		const p = await browser.execute(() => {
			const panel = document.querySelector('[aria-label="Sync progress"].panel');
			if (!panel) return null;
			const bar = panel.querySelector('[role="progressbar"]');
			return {
				strategy: panel.querySelector('strong')?.textContent.trim(),
				outcome: panel.querySelector('.badge')?.textContent.trim(),
				width: panel.querySelector('.fill')?.style.width,
				now: bar.getAttribute('aria-valuenow'),
				max: bar.getAttribute('aria-valuemax'),
				count: panel.querySelector('[data-testid="progress-count"]')?.textContent.trim()
			};
		});
		if (p) samples.push(p);
		return p && p.strategy === 'smart' && p.outcome !== 'running' ? p : null;
	}, 100);
	mark(`sync progress samples: ${samples.length}, last ${JSON.stringify(done)}`);
	assert.equal(done.outcome, 'succeeded');
	assert.equal(done.width, '100%');
	if (done.max !== null) assert.equal(done.now, done.max);
	// The history also lists the demo's stock pulses (every 5 s): look for the new smart run.
	const smart = (h) => h.filter((r) => r[1] === 'smart');
	const after = await eventually(10000, 'the smart run in the history', async () => {
		const h = await historyRows();
		return smart(h).length > smart(before).length ? smart(h) : null;
	});
	assert.equal(after[0][2], 'succeeded', JSON.stringify(after[0]));
	await screenshot(browser, 'sync');
});

test('6. a stockout: exactly one notification on D-Bus and one alert on the Alerts screen', async () => {
	assert.ok(NOTIFY_LOG, 'NOTIFY_LOG must be set');
	// The demo sells an item out on its first tick and every 30 s after.
	const summary = await eventually(90000, 'a stockout notification (Notify on D-Bus)', () => {
		const m = readFileSync(NOTIFY_LOG, 'utf8').match(/string "(Out of stock: [^"]+)"/);
		return m ? m[1] : null;
	}, 500);
	const sku = summary.slice('Out of stock: '.length);
	stockout = { sku, summary };
	mark(`stockout notified: ${sku}`);
	assert.equal(notifyCount(summary), 1, `one Notify call for ${sku}`);

	await navigate(browser, 'Alerts', '/alerts');
	const alerts = await eventually(15000, `a stockout alert for ${sku}`, () =>
		browser.execute((sku) => {
			const arts = [...document.querySelectorAll('article.alert')].filter(
				(a) =>
					a.querySelector('.badge')?.textContent.trim() === 'Stockout' &&
					[...a.querySelectorAll('tbody a')].some((l) => l.textContent.trim() === sku)
			);
			return arts.length > 0 ? arts.map((a) => a.querySelector('h2').textContent.trim()) : null;
		}, sku)
	);
	assert.equal(alerts.length, 1, `one stockout alert for ${sku}: ${JSON.stringify(alerts)}`);
	await screenshot(browser, 'alerts');
});

test('8. hostile search input is harmless', async () => {
	await backToStock();
	const hostile = [
		'"',
		"'",
		'"unbalanced',
		'*',
		'**',
		'a*',
		'NEAR(',
		'NEAR(a b',
		'OR',
		'AND OR NOT',
		'a OR',
		'(',
		')',
		'[[',
		'}{',
		'^',
		'-',
		':',
		'col:x',
		"'; DROP TABLE products; --",
		'" OR 1=1 --',
		'%_\\',
		'<img src=x onerror="window.__pwned=1">',
		'<script>window.__pwned=2</script>',
		'{{constructor.constructor("window.__pwned=3")()}}',
		'😀📦 ünïcödé',
		'\\0 %00 \\x00 \\u0000',
		'x'.repeat(200)
	];
	// Set as the input's value (as a paste would): a real NUL, a tab, 10,000 characters, 40
	// words. The cache refuses these by design (invalid_input: control characters, more than
	// 200 characters or 16 words), and the screen says why instead of showing rows.
	const pasted = ['a\u0000b', 'a\tb', 'y'.repeat(10000), 'w '.repeat(40)];
	const box = await browser.$('input[type="search"]');
	const settle = async (what) =>
		eventually(10000, `the grid to answer ${JSON.stringify(what.slice(0, 40))}`, async () => {
			const s = await browser.execute(() => ({
				busy: document.querySelector('[role="grid"]')?.getAttribute('aria-busy'),
				count: document.querySelector('.toolbar output')?.textContent.trim(),
				// (not `error`: webdriverio takes a result with an `error` key for a protocol error)
				alert: document.querySelector('.toolbar output [role="alert"]')?.textContent ?? null
			}));
			return s.busy === 'false' && !/Searching/.test(s.count) ? s : null;
		});
	const failures = [];
	for (const text of [...hostile, ...pasted]) {
		if (pasted.includes(text)) {
			await box.click();
			await browser.execute((v) => {
				const el = document.querySelector('input[type="search"]');
				el.value = v;
				el.dispatchEvent(new Event('input', { bubbles: true }));
			}, text);
		} else {
			await search(browser, text);
		}
		const s = await settle(text);
		const answered = pasted.includes(text)
			? /control character|longer than|words/.test(s.alert ?? '')
			: !s.alert && /^[\d,]+\+? items$/.test(s.count);
		if (!answered) failures.push({ text: text.slice(0, 60), ...s });
		const page = await browser.execute(() => ({
			pwned: typeof window.__pwned,
			injected: document.querySelectorAll('img[src="x"], main script').length,
			grid: !!document.querySelector('[role="grid"]'),
			title: document.querySelector('.brand')?.textContent
		}));
		assert.equal(page.pwned, 'undefined', `no script ran for ${JSON.stringify(text)}`);
		assert.equal(page.injected, 0, `no markup injected for ${JSON.stringify(text)}`);
		assert.ok(page.grid && page.title === 'Stockpulse', 'the app is still there');
	}
	assert.deepEqual(failures, [], 'every hostile query answers with rows or none (or says why it is refused)');
	// Still working: a normal search finds the item, and the window is still there.
	await search(browser, item.sku);
	await eventually(10000, `${item.sku} after the hostile input`, async () => (await gridSkus(browser))[0] === item.sku);
	execFileSync('xdotool', ['search', '--name', '^Stockpulse$']);
	await search(browser, '');
});

test('9. screenshots of every screen', async () => {
	for (const [label, path, name, ready] of [
		['Stock', '/', 'stock', '[role="grid"] [role="row"][data-sku]'],
		['Reorder', '/reorder', 'reorder', '#reorder-title'],
		['Sync', '/sync', 'sync', '#sync-title'],
		['Health', '/health', 'health', '#health-title'],
		['Alerts', '/alerts', 'alerts', 'article.alert'],
		['Settings', '/settings', 'settings', '#settings-title']
	]) {
		if (path === '/') await backToStock();
		else await navigate(browser, label, path);
		await browser.$(ready).waitForExist({ timeout: 10000 });
		await sleep(300); // charts and late rows paint
		await screenshot(browser, name);
	}
	// The item screen, opened from the grid by double click.
	await backToStock();
	const row = await browser.$(`[role="grid"] [role="row"][data-sku]`);
	await row.waitForExist({ timeout: 10000 });
	await row.doubleClick();
	await browser.$('[role="img"] canvas').waitForExist({ timeout: 10000 });
	await sleep(300);
	await screenshot(browser, 'item');
	const { readdirSync } = await import('node:fs');
	const shots = readdirSync(process.env.E2E_OUT ?? '.').filter((f) => f.endsWith('.png'));
	for (const n of ['stock', 'item', 'reorder', 'sync', 'health', 'alerts', 'settings'])
		assert.ok(shots.includes(`${n}.png`), `${n}.png saved`);
});

test('6b. the stockout was not notified again during the run', async () => {
	assert.ok(stockout, 'needs test 6');
	assert.equal(notifyCount(stockout.summary), 1, `still one Notify call for ${stockout.sku}`);
});

/** Whether the app's window is mapped (shown); a hidden window is not. */
const windowShown = () => visibleWindow() !== null;

/** Whether process `pid` still runs (a zombie waiting for its parent does not). */
function running(pid) {
	try {
		const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
		return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
	} catch {
		return false;
	}
}

/** The desktop's side (e2e/desktop.py): the tray host's menu clicks, a window manager's close. */
function desktop(...args) {
	return execFileSync('/usr/bin/python3', ['e2e/desktop.py', ...args], { encoding: 'utf8' });
}

test('10. closed to the tray: stockouts still notify, "Open" brings the window to the item, Quit ends the app', async () => {
	const TRAY_LOG = process.env.TRAY_LOG;
	assert.ok(TRAY_LOG && existsSync(TRAY_LOG), 'TRAY_LOG must name the tray host log (scripts/e2e.sh)');
	const menu = await eventually(10000, 'the app in the tray, with its menu', () => desktop('tray-menu', TRAY_LOG));
	assert.deepEqual(menu.trim().split('\n'), ['Show Stockpulse', 'Quit']);
	const pid = Number(
		execFileSync('xdotool', ['search', '--name', '^Stockpulse$', 'getwindowpid'], { encoding: 'utf8' }).trim().split('\n')[0]
	);
	assert.ok(pid > 0 && running(pid), `the app's pid (${pid})`);
	await navigate(browser, 'Alerts', '/alerts');

	// The window's close button hides it; the tray's "Show Stockpulse" brings it back.
	desktop('close', 'Stockpulse');
	await eventually(10000, 'the window to hide', () => !windowShown());
	assert.ok(running(pid), 'the app still runs after its window closed');
	desktop('tray-click', TRAY_LOG, 'Show Stockpulse');
	await eventually(10000, 'the window to show again', () => windowShown());

	// Closed again: the next stockout is still notified.
	desktop('close', 'Stockpulse');
	await eventually(10000, 'the window to hide', () => !windowShown());
	execFileSync('dunstctl', ['close-all']);
	const from = readFileSync(NOTIFY_LOG, 'utf8').length;
	const summary = await eventually(90000, 'a stockout notified while the window is closed', () => {
		const m = readFileSync(NOTIFY_LOG, 'utf8').slice(from).match(/string "(Out of stock: [^"]+)"/);
		return m ? m[1] : null;
	}, 500);
	const sku = summary.slice('Out of stock: '.length);
	mark(`notified while closed: ${sku}`);
	assert.ok(!windowShown(), 'the window stayed closed');

	// "Open" on that notification (dunst's default action, as a click on it) shows the window
	// on the item.
	await eventually(10000, 'dunst to show the notification', () =>
		Number(execFileSync('dunstctl', ['count', 'displayed'], { encoding: 'utf8' }).trim()) > 0
	);
	execFileSync('dunstctl', ['action', '0']);
	await eventually(10000, 'the window to show on Open', () => windowShown());
	const path = await eventually(10000, `the item screen of ${sku}`, async () => {
		const p = await browser.execute(() => decodeURIComponent(location.pathname));
		return p === `/item/${sku}` ? p : null;
	});
	assert.equal(path, `/item/${sku}`);
	await browser.$('[role="img"] canvas').waitForExist({ timeout: 10000 });

	// The tray's Quit ends the app.
	desktop('tray-click', TRAY_LOG, 'Quit');
	await eventually(15000, 'the app to exit', () => !running(pid));
});
