# The shell side of the cowvm test library: whether /dev/kvm is usable.
# Source it from a test script (bash or sh).

# Succeed when /dev/kvm is a character device this process can open
# read-write; otherwise print the reason (one line) and fail.
kvm_usable() {
	if [ ! -c /dev/kvm ]; then
		echo "/dev/kvm is absent (or not a character device)"
		return 1
	fi
	if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
		echo "/dev/kvm is not readable and writable here"
		return 1
	fi
	# The device exists (checked above), so <> cannot create a file.
	if ! { : <>/dev/kvm; } 2>/dev/null; then
		echo "/dev/kvm does not open read-write"
		return 1
	fi
}

# Exit with status 77 (a skip for meson) and a one-line message unless
# /dev/kvm is usable.
kvm_require() {
	kvm_why=$(kvm_usable) || {
		echo "skip: $kvm_why"
		exit 77
	}
}
