#!/usr/bin/env bash
# Installs the Debian packages that TunaIO's tests and benchmarks use, only when one is missing.
# Called by `npm test` (and `npm run bench`); safe to run again: it does nothing when all are present.
set -euo pipefail

need=()
have() { command -v "$1" >/dev/null 2>&1; }
have tcpdump || need+=(tcpdump)
have sipp || need+=(sip-tester)
have tshark || need+=(tshark)
have kamailio || need+=(kamailio)
have sngrep || need+=(sngrep)
[ -x /usr/lib/chromium/chromium ] || need+=(chromium)
[ -e /usr/include/pcap/pcap.h ] || need+=(libpcap-dev)
have ip || need+=(iproute2)
[ -x /usr/lib/postgresql/15/bin/postgres ] || need+=(postgresql)
have haproxy || need+=(haproxy)

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  if have sudo; then SUDO=sudo; else
    echo "ensure-system-deps: missing ${need[*]} and not root (no sudo available)" >&2
    exit 1
  fi
else
  SUDO=
fi

echo "ensure-system-deps: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; answer it up front.
echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections || true
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
echo "ensure-system-deps: done" >&2
