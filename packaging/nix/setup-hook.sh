# sysrestrict's setup hook for nixpkgs' stdenv (a package of sysrestrict
# sets setupHook to this file). A derivation that has sysrestrict in
# nativeBuildInputs and sets sysrestrictPolicy gets its output stamped as
# that policy file says, then checked, in postFixup: after fixupPhase's
# strip (fixupOutputHooks) and before Nix hashes the output. patchelf
# (autoPatchelfHook, also a postFixupHook) leaves a stamp intact, in
# either order.
#
#   sysrestrictPolicy  the policy file; paths in its options are relative
#                      to it, so give a directory that holds it and its
#                      profiles: "${./sysrestrict}/hello.sysrestrict"
#   sysrestrictOutput  the output to stamp (default: out)
#   sysrestrictStrict  non-empty: --check --strict

sysrestrictPostFixup() {
    if [ -z "${sysrestrictPolicy-}" ]; then
        return 0
    fi
    local root=${!sysrestrictOutput:-}
    if [ -z "${sysrestrictOutput-}" ]; then
        root=${out-}
    fi
    if [ -z "$root" ] || [ ! -d "$root" ]; then
        echo "sysrestrict: output ${sysrestrictOutput:-out} ($root) is not a directory" >&2
        return 1
    fi
    local jobs=${NIX_BUILD_CORES:-1}
    if [ "$jobs" -lt 1 ] 2>/dev/null; then
        jobs=1
    fi
    echo "sysrestrict: stamping $root as $sysrestrictPolicy says"
    sysrestrict-stamp -j "$jobs" --policy="$sysrestrictPolicy" --root="$root"
    sysrestrict-stamp --check -q -j "$jobs" ${sysrestrictStrict:+--strict} --policy="$sysrestrictPolicy" --root="$root"
}

postFixupHooks+=(sysrestrictPostFixup)
