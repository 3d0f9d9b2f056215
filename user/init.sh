#!/bin/sh
# /init of the default initramfs when the host has Debian's static busybox
# (xtask copies user/init.sh here; without busybox /init is /bin/hello).
# Mounts what the kernel has (a missing mount(2) or file system is not an
# error), prints a banner and starts an interactive busybox shell on the
# console. `poweroff -f` ends QEMU; leaving the shell makes init exit (the
# kernel then panics, as Linux does).
export PATH=/sbin:/bin HOME=/root
[ -d /proc ] && mount -t proc proc /proc 2>/dev/null
[ -d /sys ] && mount -t sysfs sysfs /sys 2>/dev/null
cd /root
echo "Tine: $(uname -sr), busybox $(busybox | sed -n '1s/^BusyBox \(v[^ ]*\).*/\1/p') shell on the console."
echo "/bin: busybox's applets and the user/ programs; /tests: shell tests. 'poweroff -f' ends QEMU."
exec /bin/sh -i
