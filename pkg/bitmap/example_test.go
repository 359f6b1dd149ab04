package bitmap_test

import (
	"fmt"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
)

func ExampleSet() {
	s := bitmap.NewSet(bitmap.X86_64, 59, 101)
	fmt.Println(s, s.Len(), s.Has(59), s.Has(0))

	b := s.Bitmap()
	fmt.Printf("byte 7 = %#02x, byte 12 = %#02x\n", b[7], b[12])

	t := s.Union(bitmap.NewSet(bitmap.X86_64, 322))
	fmt.Println(t, t.Contains(s))
	// Output:
	// {execve,ptrace} 2 true false
	// byte 7 = 0x08, byte 12 = 0x20
	// {execve,ptrace,execveat} true
}

func ExampleParse() {
	s, err := bitmap.Parse(bitmap.AARCH64, "@exec,ptrace")
	fmt.Println(s, s.Numbers(), err)

	_, err = bitmap.Parse(bitmap.X86_64, "exceve")
	fmt.Println(err)
	// Output:
	// {ptrace,execve,execveat} [117 221 281] <nil>
	// "exceve": no syscall of that name on x86_64 (sysrestrict-stamp --list-syscalls --arch x86_64 lists them); did you mean execve?
}

func ExampleAllowlist() {
	allowed, _ := bitmap.ParseAllow(bitmap.X86_64, "read,write")
	r := bitmap.Allowlist(allowed)
	fmt.Println(r.Has(0), r.Has(1), r.Has(231), r.Has(59), r.DenyBeyond())
	// Output:
	// false false false true true
}

func ExampleWarnings() {
	s, _ := bitmap.Parse(bitmap.X86_64, "execve")
	for _, w := range bitmap.Warnings(s) {
		fmt.Println(w)
	}
	// Output:
	// execve is restricted but execveat is not: a program can do the same with execveat; restrict @exec to cover them all
}
