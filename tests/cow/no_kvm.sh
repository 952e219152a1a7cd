#!/bin/sh
# Layering check: the cow engine must stay free of KVM headers and ioctls.
dir=${1:?usage: no_kvm.sh COW_SOURCE_DIR}
[ -d "$dir" ] || { echo "no such directory: $dir" >&2; exit 1; }
ls "$dir"/*.c >/dev/null 2>&1 || { echo "no sources in $dir" >&2; exit 1; }
if grep -nE '(#[[:space:]]*include[[:space:]]*[<"](linux/kvm|sys/ioctl)|\bioctl[[:space:]]*\(|\bKVM_)' \
	"$dir"/*.c "$dir"/*.h; then
	echo "cow/ must not use KVM or ioctl (lines above)" >&2
	exit 1
fi
echo "cow/ is free of KVM and ioctl"
