// Keyboard navigation: the grid's selection moves and the app's global shortcuts.

/**
 * The selected row after `key` in a list of `count` rows (`current` = -1: nothing selected),
 * or `null` when the key does not move the selection.
 */
export function moveSelection(
	current: number,
	key: string,
	count: number,
	pageRows: number
): number | null {
	if (count <= 0) return null;
	const clamp = (i: number) => Math.min(count - 1, Math.max(0, i));
	switch (key) {
		case 'ArrowDown':
			return current < 0 ? 0 : clamp(current + 1);
		case 'ArrowUp':
			return current < 0 ? 0 : clamp(current - 1);
		case 'PageDown':
			return clamp(Math.max(current, 0) + pageRows);
		case 'PageUp':
			return clamp(Math.max(current, 0) - pageRows);
		case 'Home':
			return 0;
		case 'End':
			return count - 1;
		default:
			return null;
	}
}

/** What a key pressed anywhere in the window does. */
export type GlobalAction = 'focus-search' | 'back' | null;

/** A key press as far as the global shortcuts care. */
export type KeyPress = {
	key: string;
	ctrlKey?: boolean;
	metaKey?: boolean;
	altKey?: boolean;
	/** The event's target is a text field, a select or contenteditable. */
	inField: boolean;
	/** A dialog or menu that handles Esc itself is open. */
	modalOpen?: boolean;
};

/**
 * `/` focuses the search box (unless typing in a field); Esc goes back (from a field, Esc
 * first leaves the field: the caller blurs it, so a second Esc goes back).
 */
export function globalAction(k: KeyPress): GlobalAction {
	if (k.ctrlKey || k.metaKey || k.altKey) return null;
	if (k.key === '/' && !k.inField) return 'focus-search';
	if (k.key === 'Escape' && !k.inField && !k.modalOpen) return 'back';
	return null;
}

/** Whether an element takes typed text (so single-key shortcuts must not fire). */
export function isField(el: EventTarget | null): boolean {
	if (!el || !(el as Element).tagName) return false;
	const e = el as HTMLElement;
	const tag = e.tagName;
	if (tag === 'TEXTAREA' || tag === 'SELECT') return true;
	if (tag === 'INPUT') {
		const type = (e as HTMLInputElement).type;
		return !['checkbox', 'radio', 'button', 'submit', 'reset', 'range'].includes(type);
	}
	return e.isContentEditable === true;
}
