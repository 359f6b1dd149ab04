// Package embedtest holds the real-kernel tests of embedded programs
// (sysrestrict-stamp --embed, SPEC section 5) run as anyone runs them:
// directly, with no loader. It measures what runs before the start-up
// stub's filter in a dynamic executable, and what no_new_privs, which the
// stub sets, does to a setuid program (docs/embed.md). It has no code of
// its own: only tests.
package embedtest
