#!/usr/bin/env bash
# Install the Debian packages nicemu needs, only those missing, and say what it does.
# Run as root (or with sudo available). CI calls it too.
set -euo pipefail

# command that must exist -> package that provides it
declare -A needs=(
    [qemu-system-x86_64]=qemu-system-x86
    [cpio]=cpio
    [xz]=xz-utils
    [zstd]=zstd
    [depmod]=kmod
    [readelf]=binutils
    [ping]=iputils-ping
    [ip]=iproute2
)
missing=()
for cmd in "${!needs[@]}"; do
    PATH=$PATH:/usr/sbin:/sbin command -v "$cmd" >/dev/null || missing+=("${needs[$cmd]}")
done
# Debian's own python3 needs python3-venv for 'python3 -m venv'.
python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)

if [ ${#missing[@]} -eq 0 ]; then
    echo "setup: system packages present"
    exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "setup: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
    sudo=(sudo)
fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -q
"${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
