package filter_test

import (
	"fmt"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
	"github.com/sysrestrict/sysrestrict/pkg/filter"
)

// A filter for an x86_64 program that may not ptrace, as the stamper could
// compile it for an embedded start-up stub: no gate, nothing to render.
func ExampleBuild() {
	set, err := bitmap.Parse(bitmap.X86_64, "ptrace")
	if err != nil {
		panic(err)
	}
	p, err := filter.Build(set, filter.Options{Action: filter.Errno(1)})
	if err != nil {
		panic(err)
	}
	fmt.Print(p)
	// Output:
	// 0000  ld   [4]                      ; arch
	// 0001  jeq  #0xc000003e 0003 0002    ; AUDIT_ARCH_X86_64
	// 0002  ret  #0x50001                 ; ERRNO(1)
	// 0003  ld   [0]                      ; nr
	// 0004  jge  #0x40000000 0005 0006
	// 0005  ret  #0x50001                 ; ERRNO(1)
	// 0006  jge  #0x200     0007 0008
	// 0007  ret  #0x7fff0000              ; ALLOW
	// 0008  jge  #0x65      0010 0009     ; ptrace
	// 0009  ret  #0x7fff0000              ; ALLOW
	// 0010  jge  #0x66      0012 0011     ; getuid
	// 0011  ret  #0x50001                 ; ERRNO(1)
	// 0012  ret  #0x7fff0000              ; ALLOW
}

// The loader's filter holds the exec gate; the descriptor and the secret
// are known only at run time and are rendered into the compiled program.
func ExampleProgram_Render() {
	set := bitmap.NewSet(bitmap.X86_64, 59, 322) // execve, execveat
	p, err := filter.Build(set, filter.Options{Gate: true, GateABI: bitmap.X86_64})
	if err != nil {
		panic(err)
	}
	before := p.Len()
	if err := p.Render(filter.Values{Secret: 0x1122334455667788, Fd: 3}); err != nil {
		panic(err)
	}
	execveat := func(fd, secret uint64) string {
		return filter.RetName(filter.Eval(p.Instructions(), bitmap.AUDIT_ARCH_X86_64, 322, [6]uint64{fd, 0, 0, 0, filter.AT_EMPTY_PATH, secret}))
	}
	fmt.Println(p.Gated(), before == p.Len())
	fmt.Println("the loader's execveat:", execveat(3, 0x1122334455667788))
	fmt.Println("any other:", execveat(3, 0x1122334455667789), execveat(4, 0x1122334455667788))
	// Output:
	// true true
	// the loader's execveat: ALLOW
	// any other: KILL_PROCESS KILL_PROCESS
}
