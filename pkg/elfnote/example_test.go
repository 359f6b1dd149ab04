package elfnote_test

import (
	"bytes"
	"fmt"
	"os"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
	"github.com/sysrestrict/sysrestrict/pkg/elfnote"
)

// Plan a stamp from the headers, apply it in memory, read the note back.
func ExamplePlanStamp() {
	b, err := os.ReadFile("../../testdata/elf/x86_64-pie")
	if err != nil {
		panic(err)
	}
	set := bitmap.NewSet(bitmap.X86_64, 59, 101) // execve, ptrace
	p, err := elfnote.PlanStamp(bytes.NewReader(b), set)
	if err != nil {
		panic(err)
	}
	stamped := p.Apply(bytes.Clone(b))
	f, err := elfnote.Read(bytes.NewReader(stamped))
	if err != nil {
		panic(err)
	}
	fmt.Println(p.Strategy, f.ABI, f.Set)

	rm, err := elfnote.PlanRemove(bytes.NewReader(stamped))
	if err != nil {
		panic(err)
	}
	fmt.Println(rm.Exact, bytes.Equal(rm.Apply(stamped), b))
	// Output:
	// move-table x86_64 {execve,ptrace}
	// true true
}
