#!/bin/sh
# A Buildroot post-build script (BR2_ROOTFS_POST_BUILD_SCRIPT) that stamps
# the target tree as a policy file says, then checks it. Buildroot runs
# post-build scripts after target-finalize, which strips the target's ELF
# files, and before it makes the filesystem images, so the images hold
# the stamped files. Its first argument is TARGET_DIR; the policy file is
# the second (BR2_ROOTFS_POST_SCRIPT_ARGS), or sysrestrict.policy beside
# this script. The stamper is SYSRESTRICT_STAMP, or sysrestrict-stamp in
# PATH (Buildroot puts HOST_DIR/bin first). Foreign targets (aarch64, arm)
# are stamped with their own syscall tables, whatever the build host.
set -eu

target=${1:?usage: post-build.sh TARGET_DIR [POLICY]}
policy=${2:-$(dirname -- "$0")/sysrestrict.policy}
stamp=${SYSRESTRICT_STAMP:-sysrestrict-stamp}

"$stamp" --policy="$policy" --root="$target"
"$stamp" --check -q --policy="$policy" --root="$target"
