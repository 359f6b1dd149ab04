// Package packaging holds the build-system integrations of sysrestrict,
// which are not Go: the debhelper tool dh_sysrestrict and its sequence
// add-on (debian/), and the RPM script brp-sysrestrict and its macros
// (rpm/). make install puts them where debhelper and rpm look for them;
// docs/packaging.md says how to use them and the other pipelines.
//
// Its tests run them for real: make install into a temporary DESTDIR,
// dh_sysrestrict and brp-sysrestrict on small staging trees, and the test
// package testdata/packages/hello-sysrestrict built with dpkg-buildpackage
// and rpmbuild (skipped with -short; under CI=true a missing tool fails).
package packaging
