#!/usr/bin/perl
# The dh sequence add-on "sysrestrict", enabled by a build-dependency on
# dh-sequence-sysrestrict: runs dh_sysrestrict right after dh_strip.
#
# dh_strip (and dh_dwz, which the elf-tools add-on puts before it) rewrite
# ELF files, which would break a stamp made earlier; everything after
# dh_strip (dh_makeshlibs, dh_shlibdeps, dh_md5sums, dh_builddeb) only
# reads them, so the checksums and the .deb hold the stamped bytes. Under
# DEB_BUILD_OPTIONS=nostrip, dh omits dh_dwz and dh_strip (compat 13; in
# earlier compat levels they run and do nothing), and dh_sysrestrict still
# runs in their place: nothing rewrites the files after it either way.
# See dh_sysrestrict(1).

use strict;
use warnings;
use Debian::Debhelper::Dh_Lib;

insert_after('dh_strip', 'dh_sysrestrict');

1;
