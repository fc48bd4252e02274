// The REST client: the admin key or an admin user's token, kept in
// sessionStorage (gone when the tab closes) and sent only as a Bearer
// header, never in a URL.

const KEY = 'switchboard.admin.credential';

export const credential = {
  get: (): string | null => sessionStorage.getItem(KEY),
  set: (v: string): void => sessionStorage.setItem(KEY, v),
  clear: (): void => sessionStorage.removeItem(KEY),
};

/** A failed API request: the HTTP status, the API's stable code and, for a bad input, the field. */
export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly field?: string) {
    super(message);
  }
}

/** Called when the server refuses the credential (401): the console signs out. */
export let onUnauthorized: (e: ApiError) => void = () => {};
export function setUnauthorizedHandler(f: (e: ApiError) => void): void {
  onUnauthorized = f;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

/** Paths that take the admin key only: a 401 there says nothing of an admin user's token. */
const adminKeyOnly = (path: string): boolean => path === '/metrics' || path.startsWith('/v1/cluster/');

/** Sends a request and returns the JSON answer (or text, for /metrics). */
export async function api(method: string, path: string, body?: unknown, cred = credential.get()): Promise<Json> {
  const headers: Record<string, string> = {};
  if (cred) headers.Authorization = `Bearer ${cred}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store', credentials: 'omit', redirect: 'error' });
  } catch (err) {
    throw new ApiError(0, 'network_error', `network error: ${(err as Error).message}`);
  }
  const text = await res.text();
  let json: Json;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    // /metrics and /v1/cluster answer {"error": {code, message}}; the REST API {error, code}.
    const inner = typeof json?.error === 'object' ? json.error : json;
    const e = new ApiError(res.status, inner?.code ?? `http_${res.status}`,
      (typeof inner?.error === 'string' ? inner.error : inner?.message) ?? (text.trim() || res.statusText), json?.details?.field);
    if (res.status === 401 && cred === credential.get() && !adminKeyOnly(path)) onUnauthorized(e);
    throw e;
  }
  return json ?? text;
}

/** Every item of a list endpoint, following has_more (at most `max`). */
export async function listAll(path: string, max = 1000): Promise<Json[]> {
  const out: Json[] = [];
  let after = '';
  for (;;) {
    const sep = path.includes('?') ? '&' : '?';
    const page = await api('GET', `${path}${sep}limit=200${after ? `&starting_after=${encodeURIComponent(after)}` : ''}`);
    out.push(...page.data);
    if (!page.has_more || !page.data.length || out.length >= max) return out;
    after = page.data[page.data.length - 1].id;
  }
}

export const enc = encodeURIComponent;
