#!/usr/bin/bash
#
#   sysrestrict.sh - a makepkg tidy module (install it as
#   /usr/share/makepkg/tidy/sysrestrict.sh) that stamps a package's ELF
#   files as $startdir/$pkgname.sysrestrict says, then checks them.
#
#   makepkg sources its tidy modules in name order and runs their
#   tidy_modify functions in that order: this one comes after strip.sh,
#   so tidy_sysrestrict runs after tidy_strip, inside the fakeroot
#   session of package() (the stamper keeps the owner and mode fakeroot
#   fakes), and before makepkg writes .MTREE and the package. A PKGBUILD
#   asks for it with options=('sysrestrict').

[[ -n "$LIBMAKEPKG_TIDY_SYSRESTRICT_SH" ]] && return
LIBMAKEPKG_TIDY_SYSRESTRICT_SH=1

# Newer makepkg names it MAKEPKG_LIBRARY, older LIBRARY.
MAKEPKG_LIBRARY=${MAKEPKG_LIBRARY:-${LIBRARY:-/usr/share/makepkg}}

source "$MAKEPKG_LIBRARY/util/message.sh"
source "$MAKEPKG_LIBRARY/util/option.sh"

packaging_options+=('sysrestrict')
tidy_modify+=('tidy_sysrestrict')

tidy_sysrestrict() {
	if ! check_option "sysrestrict" "y"; then
		return 0
	fi
	local policy="$startdir/$pkgname.sysrestrict"
	if [[ ! -f $policy ]]; then
		error "$(gettext "options=(sysrestrict), but there is no %s")" "$policy"
		return 1
	fi
	msg2 "$(gettext "Stamping syscall restrictions (%s)...")" "$pkgname.sysrestrict"
	sysrestrict-stamp -q --policy="$policy" --root="$pkgdir" || return 1
	sysrestrict-stamp --check -q --policy="$policy" --root="$pkgdir" || return 1
}
