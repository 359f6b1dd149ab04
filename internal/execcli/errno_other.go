//go:build !unix

package execcli

const errnoENOSYS = 38 // Linux's

// errnoNamed knows no names off Unix: give numbers.
func errnoNamed(name string) (int, bool) { return 0, false }
