// Forms built from field lists. A failed submit shows the API's message next
// to the field its details.field names (a nested name such as
// "steps[0].targets[1]" lands on the closest field, "steps[0].targets"),
// or above the buttons when it names none.
import { ApiError } from './api.js';
import { h, replace, type Child } from './dom.js';

export interface Field {
  name: string;
  label: string;
  type?: 'text' | 'number' | 'checkbox' | 'select' | 'password' | 'list' | 'url' | 'date' | 'checkboxes';
  value?: unknown;
  options?: [string, string][];
  required?: boolean;
  hint?: string;
  placeholder?: string;
  autocomplete?: string;
}

export type Values = Record<string, unknown>;

let seq = 0;

/** One labelled control with its hint and error slot. */
export function fieldBlock(prefix: string, f: Field): HTMLElement {
  const id = `${prefix}-${f.name.replace(/[^A-Za-z0-9_-]/g, '_')}`;
  const err = h('p', { class: 'err', id: `${id}-err`, 'data-error-for': f.name });
  const hint = f.hint ? h('p', { class: 'hint', id: `${id}-hint` }, f.hint) : null;
  const described = [hint ? `${id}-hint` : '', `${id}-err`].filter(Boolean).join(' ');
  const common = { id, name: f.name, 'aria-describedby': described, required: f.required };
  let control: HTMLElement;
  switch (f.type) {
    case 'checkbox':
      control = h('input', { ...common, type: 'checkbox', checked: Boolean(f.value) });
      return h('div', { class: 'field check', 'data-field': f.name }, control, h('label', { for: id }, f.label), hint, err);
    case 'select':
      control = h('select', common, (f.options ?? []).map(([v, l]) => h('option', { value: v, selected: v === String(f.value ?? '') }, l)));
      break;
    case 'checkboxes': {
      const chosen = new Set((f.value as string[] | undefined) ?? []);
      return h('fieldset', { class: 'field boxes', 'data-field': f.name, id, 'aria-describedby': described },
        h('legend', null, f.label),
        (f.options ?? []).map(([v, l], i) => h('label', { class: 'box' },
          h('input', { type: 'checkbox', name: f.name, value: v, checked: chosen.has(v), id: `${id}-${i}` }), ` ${l}`)),
        hint, err);
    }
    default: {
      const v = f.type === 'list' ? ((f.value as string[] | undefined) ?? []).join(', ') : (f.value ?? '');
      control = h('input', { ...common, type: f.type === 'list' ? 'text' : (f.type ?? 'text'), value: String(v),
        placeholder: f.placeholder, autocomplete: f.autocomplete ?? 'off', inputmode: f.type === 'number' ? 'numeric' : undefined });
    }
  }
  control.dataset.kind = f.type ?? 'text';
  return h('div', { class: 'field', 'data-field': f.name }, h('label', { for: id }, f.label), control, hint, err);
}

/** Reads a form's values by field kind: numbers, booleans, comma lists, strings. */
export function readValues(root: HTMLElement, fields: Field[]): Values {
  const out: Values = {};
  for (const f of fields) {
    if (f.type === 'checkboxes') {
      out[f.name] = [...root.querySelectorAll<HTMLInputElement>(`input[name="${CSS.escape(f.name)}"]:checked`)].map((i) => i.value);
      continue;
    }
    const el = root.querySelector<HTMLInputElement>(`[name="${CSS.escape(f.name)}"]`);
    if (!el) continue;
    if (f.type === 'checkbox') out[f.name] = el.checked;
    else if (f.type === 'number') out[f.name] = el.value.trim() === '' ? undefined : Number(el.value);
    else if (f.type === 'list') out[f.name] = el.value.split(/[\s,]+/).filter(Boolean);
    else out[f.name] = el.value.trim();
  }
  return out;
}

/** Clears the errors shown in root. */
export function clearErrors(root: HTMLElement): void {
  for (const e of root.querySelectorAll('.err, .form-err')) replace(e);
  for (const e of root.querySelectorAll('[aria-invalid]')) e.removeAttribute('aria-invalid');
}

/** Shows err next to its field in root (or in the form's general slot) and focuses that field. */
export function showError(root: HTMLElement, err: unknown): void {
  clearErrors(root);
  const msg = err instanceof Error ? err.message : String(err);
  const field = err instanceof ApiError ? err.field : undefined;
  const slot = field ? closestField(root, field) : null;
  if (slot) {
    const box = slot.querySelector('.err');
    if (box) replace(box, msg);
    const input = slot.querySelector<HTMLElement>('input, select, textarea');
    input?.setAttribute('aria-invalid', 'true');
    input?.focus();
    return;
  }
  const general = root.querySelector('.form-err');
  if (general) replace(general, field ? `${field}: ${msg}` : msg);
}

function closestField(root: HTMLElement, field: string): HTMLElement | null {
  let best: HTMLElement | null = null;
  let bestLen = -1;
  for (const el of root.querySelectorAll<HTMLElement>('[data-field]')) {
    const name = el.dataset.field!;
    const fits = field === name || field.startsWith(`${name}[`) || field.startsWith(`${name}.`);
    if (fits && name.length > bestLen) {
      best = el;
      bestLen = name.length;
    }
  }
  return best;
}

export interface FormOptions {
  title?: string;
  fields: Field[];
  submit: string;
  onSubmit: (v: Values, form: HTMLFormElement) => Promise<unknown>;
  extra?: Child[];
  testid?: string;
}

/** A form: fields, a general error slot, a submit button; errors from onSubmit are shown in place. */
export function form(o: FormOptions): HTMLFormElement {
  const prefix = `f${++seq}`;
  const status = h('p', { class: 'form-ok', role: 'status' });
  const f: HTMLFormElement = h('form', { novalidate: true, 'data-testid': o.testid, 'aria-label': o.title },
    o.title ? h('h3', null, o.title) : null,
    h('div', { class: 'fields' }, o.fields.map((fl) => fieldBlock(prefix, fl))),
    o.extra ?? [],
    h('p', { class: 'form-err', role: 'alert' }),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, o.submit)),
    status);
  f.addEventListener('submit', async (e) => {
    e.preventDefault();
    const btn = f.querySelector<HTMLButtonElement>('button[type=submit]')!;
    clearErrors(f);
    replace(status);
    btn.disabled = true;
    try {
      await o.onSubmit(readValues(f, o.fields), f);
      replace(status, 'Saved.');
    } catch (err) {
      showError(f, err);
    } finally {
      btn.disabled = false;
    }
  });
  return f;
}

/** Drops undefined values (fields left empty that the API should not see). */
export function defined(v: Values): Values {
  return Object.fromEntries(Object.entries(v).filter(([, x]) => x !== undefined));
}
