// uPlot formats numbers with `new Intl.NumberFormat(navigator.language)` when its module is
// evaluated. Under a POSIX locale (LANG=C or C.UTF-8, common on minimal installs and CI)
// WebKitGTK reports `navigator.language` as "c", which is no BCP 47 tag: that constructor
// throws a RangeError, the chart module fails to load, and every screen with a chart (Item,
// Health) never renders. Imported before uPlot, this replaces an unusable language with
// en-US (what the rest of the UI formats numbers in); a valid one is left alone.

export function usableLanguage(lang: string | undefined): boolean {
	if (!lang) return false;
	try {
		new Intl.NumberFormat(lang);
		return true;
	} catch {
		return false;
	}
}

if (typeof navigator !== 'undefined' && !usableLanguage(navigator.language)) {
	Object.defineProperty(navigator, 'language', { value: 'en-US', configurable: true });
}
