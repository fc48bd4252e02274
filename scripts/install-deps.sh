#!/usr/bin/env bash
# Installs what building and testing Switchboard needs on Debian, and nothing
# when it is already there. Run as root (CI and the dev machines are root).
set -euo pipefail

# libopus for transcoding; sipp, baresip and chromium are the real test peers;
# sox checks recorded audio.
PACKAGES=(libopus-dev libopusfile-dev pkg-config sip-tester baresip-core chromium sox)

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
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

command -v npm >/dev/null || { echo "install-deps: Node.js and npm are needed for the SDK" >&2; exit 1; }
go mod download
