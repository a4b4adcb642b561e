// Shared pieces of the E2E suites (not a test file): bounded waits, one app session through
// tauri-driver + WebKitWebDriver, and UI helpers that act like a user (clicks and keys).
//
// Every wait has a deadline: WebKitWebDriver waits forever when the app dies at start, and a
// UI that never reaches a state must fail the test, not hang it.

import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { remote } from 'webdriverio';

export const OUT = process.env.E2E_OUT ?? '.';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const t0 = Date.now();
/** A timing mark on stderr (the suite's log shows where the time goes). */
export const mark = (what) =>
	console.error(`[e2e +${((Date.now() - t0) / 1000).toFixed(1)} s] ${what}`);

export function withTimeout(promise, ms, what) {
	let timer;
	const timeout = new Promise((_, reject) => {
		timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
	});
	return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Polls `f` until it returns a truthy value (returned) or `ms` pass (an error naming `what`). */
export async function eventually(ms, what, f, every = 200) {
	const deadline = Date.now() + ms;
	let last;
	while (Date.now() < deadline) {
		try {
			const v = await f();
			if (v) return v;
			last = undefined;
		} catch (e) {
			last = e;
		}
		await sleep(every);
	}
	throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? `: ${last.message ?? last}` : ''}`);
}

export async function portOpen(port) {
	return new Promise((resolve) => {
		const s = net.connect(port, '127.0.0.1');
		s.once('connect', () => (s.destroy(), resolve(true)));
		s.once('error', () => resolve(false));
	});
}

/**
 * Starts tauri-driver on `port` (WebKitWebDriver on `port + 1`) with the environment `env`,
 * which is the app's (tauri-driver → WebKitWebDriver → the app), and waits until both listen.
 * Returns `{ process, stop }`; `stop` ends the driver with SIGTERM, so that tauri-driver stops
 * its WebKitWebDriver too.
 */
export async function startDriver({ port, env = process.env }) {
	const driver = spawn('tauri-driver', ['--port', String(port), '--native-port', String(port + 1)], {
		stdio: ['ignore', 'inherit', 'inherit'],
		env
	});
	const stop = async () => {
		if (driver.exitCode === null) {
			const exited = new Promise((r) => driver.once('exit', r));
			driver.kill('SIGTERM');
			await withTimeout(exited, 10000, 'tauri-driver to stop').catch((e) => mark(e.message));
		}
	};
	try {
		// tauri-driver answers before its WebKitWebDriver listens: a session asked in between
		// fails with a connection error, so wait for both.
		await eventually(15000, 'tauri-driver', () => portOpen(port));
		await eventually(15000, 'WebKitWebDriver', () => portOpen(port + 1));
	} catch (e) {
		await stop();
		throw e;
	}
	return { process: driver, stop };
}

/** A WebDriver session of the app with `args` through the driver on `port` (`ms` to start). */
export async function startSession({ app, args, port, ms = 60000 }) {
	return withTimeout(
		remote({
			hostname: '127.0.0.1',
			port,
			logLevel: 'error',
			connectionRetryCount: 0,
			waitforTimeout: 5000,
			capabilities: {
				browserName: 'wry',
				'wdio:enforceWebDriverClassic': true,
				'tauri:options': { application: app, args }
			}
		}),
		ms,
		'the app to start under WebKitWebDriver'
	);
}

/** Ends a session, within 10 s (a session whose app is gone may never answer). */
export async function endSession(browser) {
	await withTimeout(browser.deleteSession(), 10000, 'closing the session').catch(() => {});
}

/**
 * Starts the driver and a session of the app with `args` (and the environment `env`).
 * Returns `{ browser, stop }`; `stop` ends the session and the driver.
 */
export async function startApp({ app, args, port, env = process.env }) {
	const driver = await startDriver({ port, env });
	try {
		const browser = await startSession({ app, args, port });
		return {
			browser,
			stop: async () => {
				await endSession(browser);
				await driver.stop();
			}
		};
	} catch (e) {
		await driver.stop();
		throw e;
	}
}

/** Invokes a command in the page: only to READ state the UI cannot show. */
export async function invoke(browser, cmd, args = {}) {
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

/** The text of the header's connection state (`live`, `catching up`, `offline`). */
export async function connectionText(browser) {
	return (await browser.$('header [role="status"][aria-label="Connection"]').getText()).trim();
}

/** Clicks the main navigation's link named `label`, and waits for its screen. */
export async function navigate(browser, label, path) {
	const link = await browser.$('nav[aria-label="Main"]').$(`a=${label}`);
	await link.click();
	await eventually(5000, `the ${label} screen (${path})`, async () =>
		(await browser.execute(() => location.pathname)) === path
	);
}

/** The SKUs of the grid's rendered data rows, in order. */
export async function gridSkus(browser) {
	return browser.execute(() =>
		[...document.querySelectorAll('[role="grid"] [role="row"][data-sku]')].map((r) => r.dataset.sku)
	);
}

/** The search box's count output (`200 items`, `1 items`, or an error). */
export async function countText(browser) {
	return browser.execute(() => document.querySelector('.toolbar output')?.textContent?.trim() ?? '');
}

/**
 * Types `text` into the stock search box like a user: a click, the old text cleared, the new
 * text typed key by key. An empty `text` clears the box (a typed space then Backspace, so
 * the input event fires with the empty value).
 */
export async function search(browser, text) {
	const box = await browser.$('input[type="search"][aria-label="Search stock"]');
	await box.click();
	await box.clearValue();
	if (text === '') {
		await box.addValue(' ');
		await browser.keys('Backspace');
	} else {
		await box.addValue(text);
	}
	return box;
}

/** The X id of the first mapped (shown) window titled "Stockpulse", or `null`. */
export function visibleWindow() {
	try {
		const ids = execFileSync('xdotool', ['search', '--onlyvisible', '--name', '^Stockpulse$'], { encoding: 'utf8' });
		return ids.trim().split('\n')[0] || null;
	} catch {
		return null; // xdotool exits 1 when nothing matches
	}
}

/**
 * Saves a picture of the app's window as `$E2E_OUT/<name>.png`, taken from the X server
 * (ImageMagick's `import`), i.e. what is on screen. Not WebDriver's screenshot: WebKit takes
 * that from its compositor, and where the web view draws without compositing (no GPU, see
 * src-tauri/src/rendering.rs) it never answers.
 */
export async function screenshot(_browser, name) {
	await windowShot(join(OUT, `${name}.png`));
}

/**
 * An X-level picture of the (first visible) window titled "Stockpulse" into `path`. The X
 * server gives the screen's pixels, so notification popups over the window would show:
 * dunst is paused (its popups hidden, none lost) for the moment of the picture.
 */
export async function windowShot(path) {
	const id = visibleWindow();
	if (id === null) throw new Error('no visible window titled Stockpulse');
	const dunst = (paused) => {
		try {
			execFileSync('dunstctl', ['set-paused', String(paused)], { stdio: 'ignore', timeout: 5000 });
		} catch {
			/* no dunst here: nothing to hide */
		}
	};
	dunst(true);
	try {
		await sleep(150); // the area under the popups repaints
		execFileSync('import', ['-window', id, path], { timeout: 20000 });
	} finally {
		dunst(false);
	}
}

/**
 * A D-Bus session bus of its own with nothing on it: no notification service (nor any
 * activatable service) — a desktop without notifications. Returns `{ address, stop }`.
 */
export async function bareSessionBus() {
	const dir = mkdtempSync(join(tmpdir(), 'stockpulse-bus-'));
	const config = join(dir, 'session.conf');
	writeFileSync(
		config,
		`<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir=${dir}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`
	);
	const daemon = spawn('dbus-daemon', ['--nofork', '--print-address', `--config-file=${config}`], {
		stdio: ['ignore', 'pipe', 'inherit']
	});
	const address = await withTimeout(
		new Promise((resolve, reject) => {
			let out = '';
			daemon.stdout.on('data', (d) => {
				out += d;
				if (out.includes('\n')) resolve(out.trim());
			});
			daemon.once('exit', (code) => reject(new Error(`dbus-daemon exited (${code})`)));
		}),
		10000,
		'a bare D-Bus session bus'
	);
	return {
		address,
		stop: () => {
			daemon.kill('SIGTERM');
			rmSync(dir, { recursive: true, force: true });
		}
	};
}
