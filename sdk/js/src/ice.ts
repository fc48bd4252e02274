const FETCH_TIMEOUT_MS = 5_000;
/** Fetch a new list this long before the old one's `expires_at`. */
const EXPIRY_LEAD_MS = 60_000;

type Fetch = (input: string, init?: RequestInit) => Promise<Response>;

/**
 * The ICE servers for each call: `fixed` when given, else the server's list
 * from `GET {httpBase}/v1/webrtc/ice-servers` (cached until it expires), else
 * none (a failed or slow request is retried for the next call).
 * @internal
 */
export function iceServers(
  fixed: RTCIceServer[] | undefined,
  fetch: Fetch | undefined,
  httpBase: string,
  token: () => string,
): () => Promise<RTCIceServer[]> {
  let ice: Promise<RTCIceServer[]> | undefined;
  let expiresAt = 0;
  return () => {
    if (fixed) return Promise.resolve(fixed);
    if (ice && Date.now() < expiresAt) return ice;
    expiresAt = Infinity;
    const f = fetch ?? ((input: string, init?: RequestInit) => globalThis.fetch(input, init));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('timeout')), FETCH_TIMEOUT_MS);
    });
    const request = f(`${httpBase}/v1/webrtc/ice-servers`, {
      headers: { Authorization: `Bearer ${token()}` },
    }).then(async (res) => {
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const body = (await res.json()) as { ice_servers?: RTCIceServer[]; expires_at?: string };
      const expires = body.expires_at ? Date.parse(body.expires_at) : NaN;
      expiresAt = Number.isNaN(expires) ? Infinity : expires - EXPIRY_LEAD_MS;
      return Array.isArray(body.ice_servers) ? body.ice_servers : [];
    });
    ice = Promise.race([request, timeout])
      .catch(() => {
        expiresAt = 0; // try again for the next call
        return [];
      })
      .finally(() => clearTimeout(timer));
    return ice;
  };
}
