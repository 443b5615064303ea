#!/usr/bin/env bash
# Build the nicemu guest kit: a Debian kernel and a busybox initramfs whose
# /init brings up the guest's NIC and runs a test script passed by fw_cfg.
#
#   guest/build.sh [--force] [OUTDIR]      (OUTDIR defaults to guest/build)
#
# Outputs in OUTDIR: vmlinux (uncompressed PVH ELF, boots much faster than the
# bzImage under TCG), bzImage, initramfs.cpio (uncompressed newc) and kit.json.
# Builds once: a later run is a no-op while the outputs are newer than this
# script and guest/init. Needs apt-get (for `apt-get download`, no root),
# dpkg-deb, cpio and xz/zstd/gzip; depmod from kmod is used when installed,
# otherwise busybox's own depmod.
set -euo pipefail

GUEST_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
INIT_SRC=$GUEST_DIR/init
SELF=$GUEST_DIR/build.sh

# Drivers for every NIC model QEMU can give the guest, the PPPoE stack, and
# fw_cfg's sysfs interface (how the test script reaches the guest).
# Dependencies are added from each module's own depends= list.
MODULES=(
    qemu_fw_cfg
    virtio_pci virtio_net net_failover failover
    e1000 e1000e e100
    8139cp 8139too mii
    pcnet32
    ne2k_pci 8390
    vmxnet3
    tulip
    pppoe pppox ppp_generic slhc
)

say() { printf 'guest: %s\n' "$*"; }
die() { printf 'guest: error: %s\n' "$*" >&2; exit 1; }

FORCE=0
OUT=
for arg in "$@"; do
    case $arg in
        --force) FORCE=1 ;;
        -h|--help) sed -n '2,12s/^# \{0,1\}//p' "$SELF"; exit 0 ;;
        -*) die "unknown option $arg (usage: build.sh [--force] [OUTDIR])" ;;
        *) [[ -z $OUT ]] || die "more than one OUTDIR given"; OUT=$arg ;;
    esac
done
OUT=${OUT:-$GUEST_DIR/build}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
CACHE=$OUT/cache

up_to_date() {
    local stamp=$OUT/kit.json f kernel
    [[ -f $stamp && -f $OUT/initramfs.cpio && -f $OUT/bzImage ]] || return 1
    kernel=$(sed -n 's/^ *"kernel": "\([^"]*\)".*/\1/p' "$stamp")
    [[ -n $kernel && -f $OUT/$kernel ]] || return 1
    for f in "$INIT_SRC" "$SELF"; do
        [[ $stamp -nt $f ]] || return 1
    done
}

if [[ $FORCE == 0 ]] && up_to_date; then
    say "kit is up to date in $OUT"
    exit 0
fi

START=$SECONDS
for tool in apt-get apt-cache dpkg-deb cpio; do
    command -v "$tool" >/dev/null || die "$tool not found (the guest kit is built from Debian packages)"
done

# --- download -----------------------------------------------------------------

# The metapackage only names the current ABI's kernel package; that package
# is the one that carries the kernel and its modules.
KPKG=$(apt-cache depends linux-image-amd64 2>/dev/null |
    awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }') || true
[[ -n $KPKG ]] || die "apt-cache knows no linux-image-amd64 package: run 'apt-get update' (as root) first"

mkdir -p "$CACHE"
cached_deb() {
    find "$CACHE" -maxdepth 1 -name "${1}_*.deb" | sort -V | tail -n 1
}

# Sets DEB to the cached .deb of package $1, downloading it first if needed.
download() {
    local pkg=$1
    DEB=$(cached_deb "$pkg")
    if [[ -z $DEB ]]; then
        say "downloading $pkg"
        # apt drops root to _apt for downloads, and _apt cannot write to a
        # directory owned by root; the user's own account is fine for a
        # plain download.
        local sandbox=()
        [[ $EUID -ne 0 ]] || sandbox=(-o APT::Sandbox::User=root)
        (cd "$CACHE" && apt-get download -q "${sandbox[@]}" "$pkg" >/dev/null) ||
            die "apt-get download $pkg failed (is apt-get update done and the Debian mirror reachable?)"
        DEB=$(cached_deb "$pkg")
        [[ -n $DEB ]] || die "apt-get download $pkg left no .deb in $CACHE"
    fi
}
download "$KPKG"
KDEB=$DEB
download busybox-static
BDEB=$DEB

# --- unpack -------------------------------------------------------------------

say "unpacking $(basename "$KDEB") and $(basename "$BDEB")"
KTREE=$CACHE/kernel
BTREE=$CACHE/busybox
rm -rf "$KTREE" "$BTREE"
dpkg-deb -x "$KDEB" "$KTREE"
dpkg-deb -x "$BDEB" "$BTREE"
KVER=${KPKG#linux-image-}
BZIMAGE=$KTREE/boot/vmlinuz-$KVER
KCONFIG=$KTREE/boot/config-$KVER
KMODS=$KTREE/lib/modules/$KVER
BUSYBOX=$BTREE/bin/busybox
[[ -f $BZIMAGE && -d $KMODS ]] || die "$KPKG has no boot/vmlinuz-$KVER or lib/modules/$KVER"
[[ -x $BUSYBOX ]] || die "busybox-static has no bin/busybox"
KPKG_VERSION=$(dpkg-deb -f "$KDEB" Version)
BB_VERSION=$(dpkg-deb -f "$BDEB" Version)
# Outputs are replaced by rename, so a guest booting from the old kit
# meanwhile never reads a half-written file.
cp "$BZIMAGE" "$OUT/bzImage.tmp"
mv "$OUT/bzImage.tmp" "$OUT/bzImage"

# --- vmlinux ------------------------------------------------------------------

u8() { od -An -t u1 -j "$2" -N 1 "$1" | tr -d ' '; }
u32() { od -An -t u4 -j "$2" -N 4 "$1" | tr -d ' '; }

# Extract the payload the way the boot protocol (Documentation/x86/boot.rst)
# locates it, rather than searching for a magic number: setup_sects at 0x1f1,
# payload_offset and payload_length at 0x248 and 0x24c (protocol >= 2.08).
# The payload ends with the uncompressed size (4 bytes, little-endian), which
# checks the result. Sets COMPRESSION; says why on stderr when it fails.
extract_vmlinux() {
    local bz=$1 out=$2 setup offset length start magic expect
    [[ $(od -An -c -j 514 -N 4 "$bz" | tr -d ' ') == HdrS ]] || { echo "no HdrS signature" >&2; return 1; }
    setup=$(u8 "$bz" $((0x1f1)))
    offset=$(u32 "$bz" $((0x248)))
    length=$(u32 "$bz" $((0x24c)))
    start=$(((setup + 1) * 512 + offset))
    magic=$(od -An -t x1 -j "$start" -N 6 "$bz" | tr -d ' ')
    local -a unpack
    case $magic in
        fd377a585a00*) COMPRESSION=xz; unpack=(xz -dc --single-stream) ;;
        28b52ffd*) COMPRESSION=zstd; unpack=(zstd -dcq) ;;
        1f8b*) COMPRESSION=gzip; unpack=(gzip -dc) ;;
        5d0000*) COMPRESSION=lzma; unpack=(xz -dc --format=lzma) ;;
        425a68*) COMPRESSION=bzip2; unpack=(bzip2 -dc) ;;
        02214c18*) COMPRESSION=lz4; unpack=(lz4 -dc) ;;
        *) echo "unknown payload magic $magic" >&2; return 1 ;;
    esac
    command -v "${unpack[0]}" >/dev/null || { echo "${unpack[0]} not installed" >&2; return 1; }
    say "extracting vmlinux ($COMPRESSION payload, $length bytes at offset $start)"
    expect=$(u32 "$bz" $((start + length - 4)))
    # Trailing data after the compressed stream (the size word) is expected;
    # the decoders that cannot be told to stop at the stream's end report it.
    tail -c +$((start + 1)) "$bz" | head -c "$((length - 4))" | "${unpack[@]}" >"$out" 2>/dev/null || true
    [[ $(stat -c %s "$out") == "$expect" ]] ||
        { echo "decompressed $(stat -c %s "$out") bytes, the bzImage says $expect" >&2; return 1; }
    [[ $(od -An -c -N 4 "$out" | tr -d ' ') == 177ELF ]] || { echo "the payload is not an ELF file" >&2; return 1; }
    # XEN_ELFNOTE_PHYS32_ENTRY (type 0x12) is the PVH entry point QEMU's
    # -kernel needs to boot an ELF directly.
    if command -v readelf >/dev/null &&
        ! readelf -n "$out" 2>/dev/null | grep -q 'Xen.*0x00000012'; then
        echo "the ELF has no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY)" >&2
        return 1
    fi
}

COMPRESSION=unknown
if extract_vmlinux "$OUT/bzImage" "$OUT/vmlinux.tmp"; then
    mv "$OUT/vmlinux.tmp" "$OUT/vmlinux"
    KERNEL=vmlinux
else
    rm -f "$OUT/vmlinux.tmp" "$OUT/vmlinux"
    say "warning: cannot extract vmlinux (see above); the kit boots the bzImage, which is slower"
    KERNEL=bzImage
fi

# --- modules ------------------------------------------------------------------

ROOT=$CACHE/root
rm -rf "$ROOT"
mkdir -p "$ROOT"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,run,root,etc,lib/modules/"$KVER"}

declare -A KO
while IFS= read -r -d '' ko; do
    name=${ko##*/}
    name=${name%%.ko*}
    KO[${name//-/_}]=${ko#"$KMODS"/}
done < <(find "$KMODS/kernel" \( -name '*.ko' -o -name '*.ko.xz' -o -name '*.ko.zst' -o -name '*.ko.gz' \) -print0)
[[ ${#KO[@]} -gt 0 ]] || die "no kernel modules under $KMODS"

# Module $1 as a plain ELF object, whatever the package compressed it with:
# busybox modprobe reads .ko.xz and .ko.gz (checked) but not .ko.zst, and the
# initramfs is uncompressed anyway. (Debian 12's kernel ships plain .ko.)
module_cat() {
    local file=$KMODS/${KO[$1]}
    case $file in
        *.xz) xz -dc "$file" ;;
        *.zst) zstd -dcq "$file" ;;
        *.gz) gzip -dc "$file" ;;
        *) cat "$file" ;;
    esac
}

# Reading depends= straight from the .modinfo strings needs no kmod on the
# host; the strings are NUL-separated key=value pairs.
module_depends() {
    module_cat "$1" | tr '\0' '\n' | sed -n 's/^depends=//p' | tr ',' ' '
}

declare -A WANT
queue=()
for m in "${MODULES[@]}"; do
    if [[ $m == qemu_fw_cfg ]] && ! grep -q '^CONFIG_FW_CFG_SYSFS=m' "$KCONFIG"; then
        continue # built in (or absent): nothing to load
    fi
    [[ -n ${KO[$m]:-} ]] || die "module $m is not in $KPKG"
    queue+=("$m")
done
while [[ ${#queue[@]} -gt 0 ]]; do
    m=${queue[0]}
    queue=("${queue[@]:1}")
    [[ -z ${WANT[$m]:-} ]] || continue
    WANT[$m]=1
    for dep in $(module_depends "$m"); do
        [[ -n ${KO[$dep]:-} ]] || die "module $m depends on $dep, which $KPKG does not ship"
        queue+=("$dep")
    done
done
for m in "${!WANT[@]}"; do
    ko=$ROOT/lib/modules/$KVER/${KO[$m]%.ko*}.ko
    mkdir -p "${ko%/*}"
    module_cat "$m" >"$ko"
done
for f in modules.order modules.builtin modules.builtin.modinfo; do
    [[ ! -f $KMODS/$f ]] || cp "$KMODS/$f" "$ROOT/lib/modules/$KVER/"
done
MODULE_LIST=$(printf '%s\n' "${!WANT[@]}" | sort)
say "including $(wc -l <<<"$MODULE_LIST") modules"

# The package ships no modules.dep: modprobe needs one, and modules.alias
# to turn a PCI device's modalias into its driver.
DEPMOD=$(PATH=$PATH:/usr/sbin:/sbin command -v depmod || true)
if [[ -n $DEPMOD ]]; then
    "$DEPMOD" -b "$ROOT" "$KVER"
else
    say "depmod (kmod) not installed: using busybox depmod"
    "$BUSYBOX" depmod -b "$ROOT" "$KVER"
fi
[[ -s $ROOT/lib/modules/$KVER/modules.alias ]] || die "depmod wrote no modules.alias"

# --- initramfs ----------------------------------------------------------------

install -m 0755 "$BUSYBOX" "$ROOT/bin/busybox"
# --list-full names each applet with its usual directory, so the tree looks
# like a normal system to scripts that call /sbin/ip or /usr/bin/env.
while IFS= read -r applet; do
    [[ $applet != bin/busybox ]] || continue
    ln -sf /bin/busybox "$ROOT/$applet"
done < <("$BUSYBOX" --list-full)
install -m 0755 "$INIT_SRC" "$ROOT/init"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$ROOT/etc/passwd"
printf 'root:x:0:\n' >"$ROOT/etc/group"
printf '127.0.0.1 localhost\n' >"$ROOT/etc/hosts"

say "writing initramfs.cpio"
# Owned by root in the guest whoever builds it; sorted for a stable archive.
(cd "$ROOT" && find . -mindepth 1 | LC_ALL=C sort |
    cpio --quiet -o -H newc -R 0:0 --reproducible) >"$OUT/initramfs.cpio.tmp"
mv "$OUT/initramfs.cpio.tmp" "$OUT/initramfs.cpio"

# The unpacked kernel package is 400 MB; the .debs stay for a rebuild.
rm -rf "$KTREE" "$BTREE"

# --- manifest -----------------------------------------------------------------

json_list() {
    local first=1 item
    printf '['
    while IFS= read -r item; do
        [[ $first == 1 ]] || printf ', '
        printf '"%s"' "$item"
        first=0
    done
    printf ']'
}
ELAPSED=$((SECONDS - START))
cat >"$OUT/kit.json.tmp" <<EOF
{
  "kernel_version": "$KVER",
  "kernel_package": "$KPKG",
  "kernel_package_version": "$KPKG_VERSION",
  "kernel_compression": "$COMPRESSION",
  "busybox_version": "$BB_VERSION",
  "kernel": "$KERNEL",
  "bzimage": "bzImage",
  "initrd": "initramfs.cpio",
  "modules": $(json_list <<<"$MODULE_LIST"),
  "built_at": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
  "build_seconds": $ELAPSED
}
EOF
mv "$OUT/kit.json.tmp" "$OUT/kit.json"
say "kernel $KVER ($KERNEL), initramfs $(($(stat -c %s "$OUT/initramfs.cpio") / 1024)) KiB"
say "done in $ELAPSED s"
