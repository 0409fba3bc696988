#!/usr/bin/env bash
# Installs the Debian packages Stratus and its tests use, only those missing (apt-get
# update runs only when something must be installed). Run as root.
set -euo pipefail
packages=(iproute2 rabbitmq-server postgresql-client mariadb-client)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
