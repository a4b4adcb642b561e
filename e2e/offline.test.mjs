// Shared-database mode, offline: a second app session (no demo, a fresh data folder) is
// pointed at a Postgres store through the Settings screen, mirrors it, and keeps searching
// its local cache when the store becomes unreachable, saying "offline". Its desktop has no
// notification service (a session bus of its own with nothing on it): the app works and says
// so in Settings.
//
// The store: a fresh database on the machine's Postgres (E2E_PG, default
// postgres://postgres@127.0.0.1:5432; createdb/dropdb as that user), filled by the engine CLI
// (`stockpulse demo --size small --no-budgets` into it; STOCKPULSE_CLI names the binary).
// Between the app and Postgres sits a TCP proxy of our own: closing it (every socket
// destroyed, no more listening) is the store going away, without touching Postgres.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
	connectionText,
	eventually,
	gridSkus,
	mark,
	navigate,
	screenshot,
	search,
	startApp,
	bareSessionBus
} from './support.mjs';

const APP = process.env.APP_BIN;
const CLI = process.env.STOCKPULSE_CLI;
const PG = new URL(process.env.E2E_PG ?? 'postgres://postgres@127.0.0.1:5432');
const DB = `stockpulse_e2e_offline_${process.pid}`;
const pgArgs = ['-h', PG.hostname, '-p', PG.port || '5432', '-U', PG.username || 'postgres'];

let browser;
let stop = async () => {};
let proxy;
let dataDir;
let created = false;
/** The app's session bus (`bareSessionBus`: no notification service). */
let bus;
/** Whether the grid filled without a nudge once the shared database was saved (test 7b). */
let sharedGridFilledByItself;

/** A TCP proxy to Postgres; `close()` cuts every connection and stops listening. */
function startProxy(target) {
	const sockets = new Set();
	const server = net.createServer((client) => {
		const upstream = net.connect(target.port, target.host);
		for (const s of [client, upstream]) {
			sockets.add(s);
			s.on('close', () => sockets.delete(s));
			s.on('error', () => {});
		}
		client.pipe(upstream);
		upstream.pipe(client);
	});
	return new Promise((resolve) => {
		server.listen(0, '127.0.0.1', () =>
			resolve({
				port: server.address().port,
				connections: () => sockets.size,
				close: () =>
					new Promise((r) => {
						server.close(() => r());
						for (const s of sockets) s.destroy();
					})
			})
		);
	});
}

before(async () => {
	assert.ok(APP && existsSync(APP), `APP_BIN must name the built app (got ${APP})`);
	assert.ok(CLI && existsSync(CLI), `STOCKPULSE_CLI must name the engine CLI (got ${CLI})`);
	execFileSync('createdb', [...pgArgs, DB]);
	created = true;
	const url = new URL(PG);
	url.pathname = `/${DB}`;
	const cliHome = mkdtempSync(join(tmpdir(), 'stockpulse-cli-'));
	try {
		execFileSync(CLI, ['demo', '--size', 'small', '--no-budgets'], {
			env: { ...process.env, STOCKPULSE_DEMO_DATABASE_URL: url.href, HOME: cliHome, XDG_DATA_HOME: cliHome },
			stdio: ['ignore', 'ignore', 'inherit'],
			timeout: 120000
		});
	} finally {
		rmSync(cliHome, { recursive: true, force: true });
	}
	mark(`store ${DB} filled by the CLI`);
	proxy = await startProxy({ host: PG.hostname, port: Number(PG.port || 5432) });
	dataDir = mkdtempSync(join(tmpdir(), 'stockpulse-e2e-shared-'));
	// Its desktop has no notification service: a session bus of its own with nothing on it.
	bus = await bareSessionBus();
	({ browser, stop } = await startApp({
		app: APP,
		args: ['--data-dir', dataDir],
		port: 4446,
		env: { ...process.env, DBUS_SESSION_BUS_ADDRESS: bus.address }
	}));
	mark('shared-database session started');
});

after(async () => {
	await stop();
	bus?.stop();
	if (proxy) await proxy.close();
	if (dataDir) rmSync(dataDir, { recursive: true, force: true });
	if (created) {
		try {
			execFileSync('dropdb', [...pgArgs, '--force', DB]);
		} catch (e) {
			mark(`dropdb ${DB}: ${e.message}`);
		}
	}
});

test('7. shared database: set up in Settings, mirrored, then offline still searches', async () => {
	// First run: nothing configured; "Connect Finale" leads to Settings.
	await browser.$('button=Connect Finale').waitForExist({ timeout: 20000 });
	await navigate(browser, 'Settings', '/settings');
	const url = `postgres://${PG.username || 'postgres'}@127.0.0.1:${proxy.port}/${DB}`;
	const field = await browser.$('input[name="database-url"]');
	await field.setValue(url);
	await browser.$('button=Test database').click();
	const result = browser.$('[aria-label="Database connection result"]');
	await eventually(20000, 'the database test to pass', async () => /Connection works/.test(await result.getText()));
	await browser.$('button=Save database').click();
	await eventually(20000, 'the database to be saved', async () => /Saved\./.test(await result.getText()));
	// The URL is never shown back in full (a password would be masked).
	assert.doesNotMatch(await browser.$('main').getText(), new RegExp(`:${proxy.port}/${DB}.*:${proxy.port}/${DB}`));

	await navigate(browser, 'Stock', '/');
	await eventually(60000, 'the connection to be live', async () => (await connectionText(browser)) === 'live');
	// The list first read the empty cache; the mirror's status change makes it read again.
	const filledByItself = await eventually(30000, 'mirrored rows', async () => (await gridSkus(browser)).length >= 10)
		.then(() => true, () => false);
	mark(`the grid filled by itself after the database was saved: ${filledByItself}`);
	if (!filledByItself) await screenshot(browser, 'shared-empty-grid');
	const skus = await eventually(30000, 'mirrored rows in the grid', async () => {
		const s = await gridSkus(browser);
		return s.length >= 10 ? s : null;
	}).catch(async (e) => {
		await screenshot(browser, 'offline-failed');
		const seen = await browser.execute(() => document.body.innerText.slice(0, 600));
		throw new Error(`${e.message}; the window shows: ${JSON.stringify(seen)}`);
	});
	sharedGridFilledByItself = filledByItself;
	assert.match(await browser.$('footer').getText(), /shared database/);
	assert.ok(proxy.connections() > 0, 'the app talks to the store through the proxy');

	// The store goes away.
	await proxy.close();
	const t0 = Date.now();
	await eventually(30000, 'the header to say offline', async () => (await connectionText(browser)) === 'offline');
	mark(`offline shown ${Date.now() - t0} ms after the store went away`);
	assert.match(await browser.$('footer').getText(), /offline/);

	// Search still answers from the local cache.
	const sku = skus[3];
	await search(browser, sku);
	const found = await eventually(10000, `${sku} found offline`, async () => {
		const s = await gridSkus(browser);
		return s[0] === sku ? s : null;
	});
	assert.equal(found[0], sku);
	assert.equal(await connectionText(browser), 'offline');
	await screenshot(browser, 'offline');
});

test('7b. the stock grid fills by itself once the shared database is saved', () => {
	assert.equal(sharedGridFilledByItself, true);
});

test('7c. with no notification service on the desktop the app works and says so in Settings', async () => {
	await navigate(browser, 'Settings', '/settings');
	const text = await eventually(10000, 'the notifications line in Settings', async () => {
		const t = await browser.$('[data-testid="notifications"]').getText();
		return t.trim() ? t : null;
	});
	assert.match(text, /Desktop notifications are not available on this desktop/);
	assert.match(text, /no desktop notification service/);
	assert.match(text, /Alerts still appear in the Alerts screen/);
});
