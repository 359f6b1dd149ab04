package stub_test

import (
	"fmt"

	"github.com/sysrestrict/sysrestrict/internal/stub"
	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
	"golang.org/x/net/bpf"
)

// Build makes the payload for a stub at 0x600000 that installs a filter
// and jumps to the program's entry at 0x401040; Parse reads it back.
func ExampleBuild() {
	filter, _ := bpf.Assemble([]bpf.Instruction{
		bpf.LoadAbsolute{Off: 4, Size: 4},                             // seccomp_data.arch
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0xc000003e, SkipTrue: 1}, // AUDIT_ARCH_X86_64
		bpf.RetConstant{Val: 0x80000000},                              // SECCOMP_RET_KILL_PROCESS
		bpf.RetConstant{Val: 0x7fff0000},                              // SECCOMP_RET_ALLOW
	})
	for _, abi := range []bitmap.ABI{bitmap.X86_64, bitmap.AARCH64} {
		payload, err := stub.Build(abi, filter, 0x600000, 0x401040)
		if err != nil {
			fmt.Println(err)
			return
		}
		got, entry, err := stub.Parse(abi, payload, 0x600000)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%v: %d bytes, %d instructions, then to %#x\n", abi, len(payload), len(got), entry)
	}
	_, err := stub.Build(bitmap.ARM, filter, 0x600000, 0x401040)
	fmt.Println(err)
	// Output:
	// x86_64: 520 bytes, 4 instructions, then to 0x401040
	// aarch64: 544 bytes, 4 instructions, then to 0x401040
	// no start-up stub for this ABI: arm
}
