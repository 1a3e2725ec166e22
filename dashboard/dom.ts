// DOM helpers for the dashboard. Everything is built with createElement and textContent — never
// innerHTML with data — so any text coming from the API (device names, labels, error messages) is
// inert. `h` builds an element from a tag, attributes and children; `table` builds a data table
// from column definitions; `meta` a label → value list; `badge`, `empty` and `errorBox` are the small shared widgets.

export type Child = Node | string | number | null | undefined | false;
export type Attrs = Record<string, string | number | boolean | null | undefined | ((ev: Event) => void)>;

/** Creates an element; attribute values that are functions become event listeners (`onclick` → click). */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (typeof value === 'function') el.addEventListener(key.replace(/^on/, ''), value);
    else if (key === 'class') el.className = String(value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

export function append(parent: Node, children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces all children of `parent`. */
export function replaceChildren(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, children);
}

export type Tone = 'green' | 'red' | 'amber' | 'blue' | 'purple' | 'grey';

export function badge(text: string, tone: Tone, title?: string): HTMLElement {
  return h('span', { class: `badge badge-${tone}`, title, 'data-badge': text }, text);
}

export interface Column<T> {
  title: string;
  numeric?: boolean;
  cell: (row: T) => Child | Child[];
}

/**
 * A data table in a horizontally scrolling wrapper (for narrow screens); `id` goes on the table,
 * `rowAttrs` can add attributes (e.g. data ids) and `onRow` makes rows clickable.
 */
export function table<T>(columns: Column<T>[], rows: T[], opts: { id?: string; rowAttrs?: (row: T) => Attrs; onRow?: (row: T) => void } = {}): HTMLElement {
  const head = h('tr', {}, ...columns.map((c) => h('th', { class: c.numeric ? 'num' : null }, c.title)));
  const body = h('tbody');
  for (const row of rows) {
    const tr = h('tr', { ...(opts.rowAttrs?.(row) ?? {}), class: opts.onRow ? 'clickable' : null });
    if (opts.onRow) {
      const onRow = opts.onRow;
      tr.addEventListener('click', (ev) => {
        // Let real links and selections inside the row behave normally.
        if ((ev.target as Element).closest('a') || window.getSelection()?.toString()) return;
        onRow(row);
      });
    }
    for (const c of columns) {
      const value = c.cell(row);
      const td = h('td', { class: c.numeric ? 'num' : null });
      append(td, Array.isArray(value) ? value : [value]);
      tr.appendChild(td);
    }
    body.appendChild(tr);
  }
  return h('div', { class: 'table-wrap' }, h('table', { class: 'data', id: opts.id }, h('thead', {}, head), body));
}

export function empty(message: string, hint?: Child | Child[]): HTMLElement {
  const hintEl = hint ? h('div', { class: 'small' }, ...(Array.isArray(hint) ? hint : [hint])) : null;
  return h('div', { class: 'empty' }, h('div', {}, message), hintEl);
}

export function errorBox(title: string, code: string | null, message: string): HTMLElement {
  return h('div', { class: 'error-box', role: 'alert' }, h('strong', {}, title), ' ', code ? h('span', { class: 'error-code' }, code) : null, ' ', message);
}

/** A definition list of label → value rows (the cards of the run and series pages). */
export function meta(rows: [string, Child | Child[]][], attrs: Attrs = {}): HTMLElement {
  const dl = h('dl', { ...attrs, class: 'meta' });
  for (const [k, v] of rows) dl.append(h('dt', {}, k), h('dd', {}, ...(Array.isArray(v) ? v : [v])));
  return dl;
}

export function mono(text: string, title?: string): HTMLElement {
  return h('span', { class: 'mono', title }, text);
}
