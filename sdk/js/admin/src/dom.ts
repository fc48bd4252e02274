// Small DOM helpers: elements are built with h() and text nodes only (no
// innerHTML anywhere), so API data can never become markup.

export type Child = Node | string | number | null | undefined | false | Child[];
export type Attrs = Record<string, unknown>;

/** Creates an element; `on…` attributes that are functions become listeners. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Attrs | null, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (typeof v === 'function' && k.startsWith('on')) el.addEventListener(k.slice(2), v as EventListener);
    else if (k === 'value' || k === 'checked' || k === 'selected' || k === 'disabled') (el as unknown as Record<string, unknown>)[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

export function append(el: Node, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
  }
}

/** Replaces el's children. */
export function replace(el: Node, ...children: Child[]): void {
  while (el.firstChild) el.removeChild(el.firstChild);
  append(el, children);
}

/** Sets el's text when it changed (keeps in-place updates cheap). */
export function setText(el: Node, text: string): void {
  if (el.textContent !== text) el.textContent = text;
}

/** A table whose cells carry their column name (data-label) for the narrow layout. */
export function table(label: string, head: string[], rows: Child[][], testid?: string): HTMLElement {
  return h('div', { class: 'table-wrap' },
    h('table', { 'aria-label': label, 'data-testid': testid },
      h('thead', null, h('tr', null, head.map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', null, rows.map((r) => tableRow(head, r)))));
}

export function tableRow(head: string[], cells: Child[]): HTMLTableRowElement {
  return h('tr', null, cells.map((c, i) => h('td', { 'data-label': head[i] }, c)));
}

/** A status line for a page (polite live region). */
export function note(text: string, kind: 'ok' | 'bad' | '' = ''): HTMLElement {
  return h('p', { class: `note ${kind}`, role: kind === 'bad' ? 'alert' : 'status' }, text);
}

export function button(label: string, onclick: (e: Event) => unknown, attrs: Attrs = {}): HTMLButtonElement {
  return h('button', { type: 'button', ...attrs, onclick }, label);
}

/** A button that asks again before doing something that cannot be undone. */
export function dangerButton(label: string, onconfirm: () => unknown, attrs: Attrs = {}): HTMLButtonElement {
  const b = button(label, () => {
    if (b.dataset.armed) {
      delete b.dataset.armed;
      b.textContent = label;
      void onconfirm();
    } else {
      b.dataset.armed = '1';
      b.textContent = `Confirm: ${label.toLowerCase()}`;
    }
  }, { class: 'danger', ...attrs });
  b.addEventListener('blur', () => {
    delete b.dataset.armed;
    b.textContent = label;
  });
  return b;
}

export function when(iso: string | null | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}
