#!/usr/bin/env bash
# Installs what building and testing Switchboard needs on Debian, and nothing
# when it is already there. Run as root (CI and the dev machines are root).
set -euo pipefail

# libopus for transcoding; sipp, baresip and chromium are the real test peers;
# sox checks recorded audio. With --test, also PostgreSQL and nats-server:
# the store and cluster tests start their own throwaway instances of both
# (`make run` needs neither). With --bench, rtpengine (userspace) for
# `make bench` to measure side by side, and taskset (util-linux) to pin.
PACKAGES=(libopus-dev libopusfile-dev pkg-config sip-tester baresip-core chromium sox)
case ${1:-} in
  --test) PACKAGES+=(postgresql nats-server) ;;
  --bench) PACKAGES+=(rtpengine-daemon util-linux) ;;
esac

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "install-deps: need root to install: ${missing[*]}" >&2
    exit 1
  fi
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # Keep apt from starting the packages' own daemons (a system PostgreSQL
  # on 5432, a nats-server on 4222): tests run their own, and nothing else
  # here needs them. policy-rc.d is only put in place when absent.
  policy=/usr/sbin/policy-rc.d
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy"
    trap 'rm -f "$policy"' EXIT
  fi
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

command -v npm >/dev/null || { echo "install-deps: Node.js and npm are needed for the SDK" >&2; exit 1; }
go mod download
