"""The guest's own scripts: its first stage (``/init``), boot script, DHCP hook, ACPI.

``/init`` runs from the initramfs. Given ``root=/dev/...`` on the kernel command line
(the qcow2 disk image), it loads the disk modules, mounts that root and switches to
it; otherwise the initramfs itself is the root. Either way busybox ``init`` then runs
``/etc/init.d/rcS``: modules, DHCP on every NIC, metadata (OpenStack JSON, then the EC2
paths, then a config drive labelled ``config-2``), hostname, root's SSH keys, user data
starting with ``#!``, the marker line, dropbear.
"""

from __future__ import annotations

MARKER = "stratus-guest ready"

INIT = r"""#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
root=$(sed -n 's/.*root=\([^ ]*\).*/\1/p' /proc/cmdline)
if [ -n "$root" ] && [ "$root" != "/dev/ram0" ]; then
    for m in $(cat /etc/modules.order); do insmod "$m" 2>/dev/null; done
    i=0
    while [ ! -b "$root" ] && [ $i -lt 50 ]; do sleep 0.2; i=$((i + 1)); done
    mkdir -p /newroot
    if mount -t ext4 -o rw "$root" /newroot; then
        mount --move /dev /newroot/dev
        umount /proc /sys
        exec switch_root /newroot /sbin/init
    fi
    echo "stratus-guest: cannot mount $root, staying in the initramfs"
fi
exec /sbin/init
"""

INITTAB = """::sysinit:/etc/init.d/rcS
::ctrlaltdel:/sbin/reboot
::shutdown:/bin/sh -c 'killall dropbear; sync; umount -a -r'
"""

RCS = r"""#!/bin/sh
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
[ -e /proc/self ] || mount -t proc proc /proc
[ -d /sys/class ] || mount -t sysfs sysfs /sys
[ -e /dev/null ] || mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /run /tmp /mnt/config /root/.ssh /etc/dropbear
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /run
for m in $(cat /etc/modules.order); do insmod "$m" 2>/dev/null; done
ip link set lo up
acpid -c /etc/acpi
for dev in /sys/class/net/*; do
    nic=${dev##*/}
    [ "$nic" = lo ] && continue
    ip link set "$nic" up
    udhcpc -i "$nic" -s /etc/udhcpc.script -n -q -t 10 -T 2 -O staticroutes >/dev/null 2>&1 &
done
wait
. /etc/stratus-metadata
echo "stratus-guest: metadata source=$md_source"
[ -n "$md_hostname" ] && hostname "$md_hostname" && echo "$md_hostname" > /etc/hostname
[ -z "$md_hostname" ] && hostname stratus-guest
if [ -n "$md_keys" ]; then
    echo "$md_keys" > /root/.ssh/authorized_keys
    chmod 700 /root/.ssh; chmod 600 /root/.ssh/authorized_keys
fi
if [ -s /run/metadata/user_data ] && [ "$(head -c 2 /run/metadata/user_data)" = "#!" ]; then
    cp /run/metadata/user_data /run/user-data.sh && chmod 700 /run/user-data.sh
    echo "stratus-guest: running user data"
    /run/user-data.sh 2>&1
fi
echo "stratus-guest ready instance=${md_instance:-unknown} hostname=$(hostname)"
dropbear -R -p 22
"""

METADATA = r"""# sourced by rcS: sets md_source, md_instance, md_hostname, md_keys
md=/run/metadata
mkdir -p $md
base=http://169.254.169.254
# (not wget -T: busybox-static 1.35's wget crashes with it when a connection fails)
get() { timeout 10 wget -q -O "$2" "$1" 2>/dev/null; }
retry_get() {  # the metadata service may answer a moment after DHCP did
    for i in 1 2 3 4 5; do get "$1" "$2" && return 0; sleep 1; done
    return 1
}
json() { sed -n "s/.*\"$1\": *\"\([^\"]*\)\".*/\1/p" "$2" | head -n 1; }
keys_of() { grep -o '"public_keys": *{[^}]*}' "$1" | grep -o '"[a-z0-9-]* [^"]*"' |
            tr -d '"' | sed 's/\\n$//'; }
read_openstack() {
    md_instance=$(json uuid $md/meta_data.json)
    md_hostname=$(json hostname $md/meta_data.json)
    md_keys=$(keys_of $md/meta_data.json)
}
md_source=none
routed() { ip route get 169.254.169.254 >/dev/null 2>&1; }  # no network: no waiting
if routed && retry_get $base/openstack/latest/meta_data.json $md/meta_data.json; then
    md_source=openstack
    get $base/openstack/latest/user_data $md/user_data || rm -f $md/user_data
    read_openstack
elif routed && get $base/latest/meta-data/instance-id $md/instance-id; then
    md_source=ec2
    md_instance=$(cat $md/instance-id)
    get $base/latest/meta-data/hostname $md/hostname && md_hostname=$(cat $md/hostname)
    get $base/latest/meta-data/public-keys/0/openssh-key $md/key && md_keys=$(cat $md/key)
    get $base/latest/user-data $md/user_data || rm -f $md/user_data
else
    dev=$(findfs LABEL=config-2 2>/dev/null)
    if [ -n "$dev" ] && mount -o ro "$dev" /mnt/config 2>/dev/null; then
        md_source=config-drive
        cp /mnt/config/openstack/latest/meta_data.json $md/meta_data.json
        cp /mnt/config/openstack/latest/user_data $md/user_data 2>/dev/null
        umount /mnt/config
        read_openstack
    fi
fi
"""

UDHCPC = r"""#!/bin/sh
# busybox udhcpc hook: address, default route, classless static routes, DNS
case "$1" in
    deconfig) ip addr flush dev "$interface"; ip link set "$interface" up ;;
    bound|renew)
        ifconfig "$interface" "$ip" netmask "${subnet:-255.255.255.0}" up
        if [ -n "$staticroutes" ]; then
            set -- $staticroutes
            while [ $# -ge 2 ]; do ip route replace "$1" via "$2" dev "$interface"; shift 2; done
        fi
        for r in $router; do ip route replace default via "$r" dev "$interface"; break; done
        [ -n "$dns" ] && { for d in $dns; do echo "nameserver $d"; done; } > /etc/resolv.conf
        echo "stratus-guest: $interface has $ip" > /dev/console
        ;;
esac
exit 0
"""

POWER_BUTTON = """#!/bin/sh
poweroff
"""

PASSWD = "root:x:0:0:root:/root:/bin/sh\n"
GROUP = "root:x:0:\n"
SHELLS = "/bin/sh\n"
