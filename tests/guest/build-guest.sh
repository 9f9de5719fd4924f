#!/bin/bash
# Build the tiny aether test guest: OUTDIR/vmlinuz and OUTDIR/initrd.img.
#
# Usage: tests/guest/build-guest.sh OUTDIR
#
# The kernel is Debian's (the package linux-image-amd64 depends on), fetched
# with `apt-get download` and unpacked with `dpkg -x` (never installed).  The
# initramfs holds static busybox, the virtio-net modules, the ACPI power-button
# modules, tests/guest/init as /init and tests/guest/udhcpc.script.
#
# Cached: does nothing when both outputs exist and are newer than this script,
# init and udhcpc.script (and $AETHER_KERNEL_DEB when set).
#
# Environment:
#   AETHER_KERNEL_DEB   use this linux-image-*.deb instead of apt-get download
#   AETHER_BUSYBOX      static busybox to ship (default /bin/busybox from
#                       busybox-static)
#   AETHER_GUEST_FORCE  set to 1 to rebuild even when the outputs look fresh
set -euo pipefail

prog=build-guest
log() { echo "$prog: $*" >&2; }
die() { echo "$prog: error: $*" >&2; exit 1; }

[[ $# -eq 1 && -n $1 ]] || { echo "usage: $0 OUTDIR" >&2; exit 2; }

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SELF=$HERE/$(basename "${BASH_SOURCE[0]}")
INIT=$HERE/init
DHCP_SCRIPT=$HERE/udhcpc.script
BUSYBOX=${AETHER_BUSYBOX:-/bin/busybox}

# Load order matters: insmod does not resolve dependencies.
MODULES=(virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev
         virtio_pci failover net_failover virtio_net)
# Optional: ACPI power button -> input event -> busybox acpid -> poweroff.
EXTRA_MODULES=(button evdev)

for f in "$INIT" "$DHCP_SCRIPT"; do
    [[ -f $f ]] || die "missing $f"
done

mkdir -p "$1"
OUTDIR=$(cd "$1" && pwd)

inputs=("$SELF" "$INIT" "$DHCP_SCRIPT")
[[ -n ${AETHER_KERNEL_DEB:-} && -f ${AETHER_KERNEL_DEB:-} ]] && inputs+=("$AETHER_KERNEL_DEB")

is_fresh() {
    [[ ${AETHER_GUEST_FORCE:-0} != 1 ]] || return 1
    local out in
    for out in "$OUTDIR/vmlinuz" "$OUTDIR/initrd.img"; do
        [[ -s $out ]] || return 1
        for in in "${inputs[@]}"; do
            [[ $out -nt $in ]] || return 1
        done
    done
}

is_fresh && exit 0

# Serialise concurrent builds into the same OUTDIR (e.g. make -j check).
if command -v flock >/dev/null 2>&1; then
    exec 9>"$OUTDIR/.build-guest.lock"
    flock 9
    is_fresh && exit 0
fi

for tool in dpkg cpio gzip find; do
    command -v "$tool" >/dev/null 2>&1 || die "'$tool' not found (apt-get install dpkg cpio gzip findutils)"
done

[[ -x $BUSYBOX ]] || die "$BUSYBOX not found: apt-get install busybox-static (or set AETHER_BUSYBOX)"
ldd_out=$(ldd "$BUSYBOX" 2>&1 || true)
case $ldd_out in
    *"not a dynamic executable"*|*"statically linked"*) ;;
    *) die "$BUSYBOX is dynamically linked; the guest needs a static one: apt-get install busybox-static (or set AETHER_BUSYBOX)" ;;
esac

tmp=$(mktemp -d "${TMPDIR:-/tmp}/aether-guest.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
chmod 0755 "$tmp"

# --- kernel package -------------------------------------------------------
if [[ -n ${AETHER_KERNEL_DEB:-} ]]; then
    [[ -f $AETHER_KERNEL_DEB ]] || die "AETHER_KERNEL_DEB=$AETHER_KERNEL_DEB does not exist"
    deb=$AETHER_KERNEL_DEB
    log "using kernel package $deb"
else
    command -v apt-cache >/dev/null 2>&1 || die "apt-cache not found; set AETHER_KERNEL_DEB=/path/to/linux-image-*.deb"
    kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
           awk '$1 == "Depends:" { gsub(/[<>]/, "", $2); print $2; exit }' || true)
    [[ -n $kpkg ]] ||
        die "cannot find the kernel package linux-image-amd64 depends on (are the apt lists missing? run 'apt-get update'), or set AETHER_KERNEL_DEB=/path/to/linux-image-*.deb"
    mkdir "$tmp/dl"
    chmod 0777 "$tmp/dl"    # let apt's _apt user write there (no sandbox warning)
    log "downloading $kpkg"
    if ! (cd "$tmp/dl" && apt-get download "$kpkg") >"$tmp/apt.log" 2>&1; then
        cat "$tmp/apt.log" >&2
        die "'apt-get download $kpkg' failed; the apt lists are probably missing or stale: run 'apt-get update' and retry (or set AETHER_KERNEL_DEB=/path/to/$kpkg.deb)"
    fi
    debs=("$tmp"/dl/*.deb)
    [[ -f ${debs[0]} ]] || die "apt-get download $kpkg produced no .deb"
    deb=${debs[0]}
fi

log "unpacking $(basename "$deb")"
dpkg -x "$deb" "$tmp/x"

kernels=("$tmp"/x/boot/vmlinuz-*)
[[ -f ${kernels[0]} ]] || die "no /boot/vmlinuz-* in $(basename "$deb")"
[[ ${#kernels[@]} -eq 1 ]] || die "several kernels in $(basename "$deb"): ${kernels[*]}"
kver=${kernels[0]##*/vmlinuz-}
moddir=$tmp/x/lib/modules/$kver
[[ -d $moddir/kernel ]] || die "no lib/modules/$kver/kernel in $(basename "$deb")"

# --- staging tree ---------------------------------------------------------
stage=$tmp/stage
mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,run,tmp,root,lib/modules}
chmod 1777 "$stage/tmp"

cp "$BUSYBOX" "$stage/bin/busybox"
chmod 0755 "$stage/bin/busybox"
# Applet symlinks, at build time (same layout as `busybox --install -s`).
"$BUSYBOX" --list-full | while IFS= read -r applet; do
    case $applet in ""|linuxrc|bin/busybox|sbin/init) continue ;; esac
    mkdir -p "$stage/$(dirname "$applet")"
    ln -sf /bin/busybox "$stage/$applet"
done
[[ -L $stage/bin/sh ]] || die "busybox has no 'sh' applet"

install -m 0755 "$INIT" "$stage/init"
install -m 0755 "$DHCP_SCRIPT" "$stage/etc/udhcpc.script"
# A console node in case the kernel's built-in initramfs lacks one (needs root).
mknod -m 0600 "$stage/dev/console" c 5 1 2>/dev/null ||
    log "note: cannot mknod dev/console (not root?); relying on the kernel's built-in one"

# --- modules --------------------------------------------------------------
notes=()
builtin_file=$moddir/modules.builtin
add_module() {   # add_module NAME required|optional
    local m=$1 kind=$2 pat f
    pat=${m//_/[-_]}
    f=$(find "$moddir/kernel" \( -name "$pat.ko" -o -name "$pat.ko.xz" \
            -o -name "$pat.ko.zst" -o -name "$pat.ko.gz" \) -print -quit)
    if [[ -z $f ]]; then
        if [[ -f $builtin_file ]] && grep -Eq "/${pat}\.ko$" "$builtin_file"; then
            notes+=("$m: built into the kernel, skipped")
            return 0
        fi
        [[ $kind == optional ]] || [[ $m != virtio_net ]] ||
            die "virtio_net is neither a module nor built in for kernel $kver"
        notes+=("$m: not found (not in modules.builtin either), skipped")
        return 0
    fi
    local dst=$stage/lib/modules/$m.ko
    case $f in
        *.ko.xz)  command -v xz   >/dev/null || die "xz needed for $f";   xz -dc "$f" >"$dst"
                  notes+=("$m: decompressed from .ko.xz") ;;
        *.ko.zst) command -v zstd >/dev/null || die "zstd needed for $f"; zstd -dcq "$f" >"$dst"
                  notes+=("$m: decompressed from .ko.zst") ;;
        *.ko.gz)  gzip -dc "$f" >"$dst"
                  notes+=("$m: decompressed from .ko.gz") ;;
        *)        cp "$f" "$dst" ;;
    esac
    echo "$m" >>"$stage/etc/aether-modules"
}
: >"$stage/etc/aether-modules"
for m in "${MODULES[@]}"; do add_module "$m" required; done
for m in "${EXTRA_MODULES[@]}"; do add_module "$m" optional; done

# --- optional uncompressed kernel for PVH boot -----------------------------
# Under TCG the bzImage spends ~3.5 s decompressing itself (xz).  QEMU can
# boot the inner ELF vmlinux directly through its PVH entry point instead
# (-kernel OUTDIR/vmlinux), which skips that.  Best effort: skipped if the
# kernel lacks CONFIG_PVH or the payload is not xz/gzip/zstd.
vmlinux=
extract_vmlinux() {
    local img=$1 out=$2 magic dec off
    for spec in 'fd377a585a00:xz -dc --single-stream' '28b52ffd:zstd -dcq' '1f8b0800:gzip -dcq'; do
        magic=${spec%%:*} dec=${spec#*:}
        command -v "${dec%% *}" >/dev/null 2>&1 || continue
        for off in $(LC_ALL=C grep -obUaP "$(sed 's/../\\x&/g' <<<"$magic")" "$img" 2>/dev/null |
                     cut -d: -f1 | head -n 3); do
            tail -c "+$((off + 1))" "$img" | $dec >"$out" 2>/dev/null || true
            if [[ $(head -c 4 "$out" | od -An -tx1 | tr -d ' \n') == 7f454c46 ]]; then
                return 0
            fi
        done
    done
    rm -f "$out"
    return 1
}
if grep -q '^CONFIG_PVH=y' "$tmp/x/boot/config-$kver" 2>/dev/null; then
    if extract_vmlinux "${kernels[0]}" "$tmp/vmlinux"; then
        vmlinux=$tmp/vmlinux
    else
        notes+=("vmlinux: could not extract the ELF kernel from vmlinuz; no PVH image")
    fi
else
    notes+=("vmlinux: kernel lacks CONFIG_PVH; no PVH image")
fi

# --- initramfs ------------------------------------------------------------
find "$stage" -exec touch -h -d @0 {} +   # reproducible archive
(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort |
    cpio -o -H newc -R 0:0 --reproducible --quiet) | gzip -9n >"$tmp/initrd.img"

{
    echo "kernel=$kver"
    echo "package=$(basename "$deb")"
    echo "modules=$(paste -sd' ' "$stage/etc/aether-modules")"
    echo "pvh_vmlinux=$([[ -n $vmlinux ]] && echo yes || echo no)"
    for n in "${notes[@]}"; do echo "note=$n"; done
    echo "busybox=$("$BUSYBOX" 2>&1 | head -n 1)"
} >"$tmp/guest-info"

# Install: copy next to the targets first, then rename (atomic per file);
# initrd.img goes last so an interrupted build is never taken as fresh.
cp "${kernels[0]}" "$OUTDIR/.vmlinuz.tmp"
cp "$tmp/initrd.img" "$OUTDIR/.initrd.img.tmp"
cp "$tmp/guest-info" "$OUTDIR/.guest-info.tmp"
mv -f "$OUTDIR/.guest-info.tmp" "$OUTDIR/guest-info"
if [[ -n $vmlinux ]]; then
    cp "$vmlinux" "$OUTDIR/.vmlinux.tmp"
    mv -f "$OUTDIR/.vmlinux.tmp" "$OUTDIR/vmlinux"
else
    rm -f "$OUTDIR/vmlinux"
fi
mv -f "$OUTDIR/.vmlinuz.tmp" "$OUTDIR/vmlinuz"
mv -f "$OUTDIR/.initrd.img.tmp" "$OUTDIR/initrd.img"

for n in "${notes[@]}"; do log "note: $n"; done
log "built $OUTDIR/vmlinuz ($kver) and $OUTDIR/initrd.img ($(du -k "$OUTDIR/initrd.img" | cut -f1) KiB)"
