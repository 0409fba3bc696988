#!/usr/bin/env bash
# Installs the Debian packages Stratus and its tests use, only those missing (apt-get
# update runs only when something must be installed). Run as root.
set -euo pipefail
# qemu-system-x86: the qemu compute driver; e2fsprogs: the guest image's ext4 disk;
# dropbear-bin: the libraries its dropbear needs (the guest's busybox-static, dropbear
# and kernel packages are only downloaded, with apt-get download, never installed);
# xorriso: config drives; dnsmasq-base (the binary, no system service), nftables and
# busybox-static: the network agent and its tests; openssh-client: the guest's tests
packages=(iproute2 rabbitmq-server postgresql-client mariadb-client qemu-utils rclone
          xorriso qemu-system-x86 e2fsprogs dropbear-bin dnsmasq-base nftables
          busybox-static openssh-client)
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
