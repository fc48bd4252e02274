// Browser media helpers: ICE gathering, the ringback tone and remote playback.

/** A sound the SDK started (ringback, an app ringtone); `stop` is idempotent. */
export interface Sound {
  /** Stops the sound. */
  stop(): void;
}

/** Plays a call's remote audio. @internal */
export interface Playback extends Sound {
  /** (Re)starts playback; called again after a user gesture (answer). */
  play(): void;
}

/**
 * Resolves when `pc` has finished gathering ICE candidates, or after
 * `timeoutMs`: the SDP is then sent with what was gathered and later
 * candidates are trickled.
 *
 * @internal
 */
export function waitForIceGathering(pc: RTCPeerConnection, timeoutMs: number): Promise<void> {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      pc.removeEventListener('icegatheringstatechange', onState);
      pc.removeEventListener('icecandidate', onCandidate);
      resolve();
    };
    const onState = (): void => {
      if (pc.iceGatheringState === 'complete') done();
    };
    const onCandidate = (e: RTCPeerConnectionIceEvent): void => {
      if (!e.candidate) done();
    };
    const timer = setTimeout(done, timeoutMs);
    pc.addEventListener('icegatheringstatechange', onState);
    pc.addEventListener('icecandidate', onCandidate);
  });
}

const RINGBACK_LEVEL = 0.08;
const RINGBACK_ON = 2;
const RINGBACK_PERIOD = 6;

/**
 * Plays the North American ringback tone on `ctx`: 440 Hz + 480 Hz, 2 s on,
 * 4 s off. The cadence is scheduled on the audio clock a period ahead.
 *
 * @internal
 */
export function startRingback(ctx: AudioContext): Sound {
  if (ctx.state === 'suspended') ctx.resume().catch(() => {});
  const gain = ctx.createGain();
  gain.gain.value = 0;
  gain.connect(ctx.destination);
  const oscillators = [440, 480].map((hz) => {
    const o = ctx.createOscillator();
    o.frequency.value = hz;
    o.connect(gain);
    o.start();
    return o;
  });
  let next = ctx.currentTime;
  const schedule = (): void => {
    while (next < ctx.currentTime + RINGBACK_PERIOD) {
      gain.gain.setValueAtTime(RINGBACK_LEVEL, next);
      gain.gain.setValueAtTime(0, next + RINGBACK_ON);
      next += RINGBACK_PERIOD;
    }
  };
  schedule();
  const timer = setInterval(schedule, (RINGBACK_PERIOD / 2) * 1000);
  let stopped = false;
  return {
    stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      for (const o of oscillators) {
        try {
          o.stop();
          o.disconnect();
        } catch {
          // already stopped
        }
      }
      gain.disconnect();
    },
  };
}

/**
 * Plays `stream` through an audio element that is not attached to the DOM.
 *
 * @internal
 */
export function playStream(AudioElement: new () => HTMLAudioElement, stream: MediaStream): Playback {
  const el = new AudioElement();
  el.autoplay = true;
  el.srcObject = stream;
  const play = (): void => {
    // Autoplay policies may refuse before a user gesture; answer() retries.
    el.play()?.catch(() => {});
  };
  play();
  return {
    play,
    stop() {
      el.pause();
      el.srcObject = null;
    },
  };
}

/** Stops every track of `stream`. @internal */
export function stopTracks(stream: MediaStream | null | undefined): void {
  for (const t of stream?.getTracks() ?? []) t.stop();
}
