package profile_test

import (
	"fmt"
	"os"
	"time"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
	"github.com/sysrestrict/sysrestrict/pkg/profile"
)

func Example() {
	p := &profile.Profile{Runs: []profile.Run{{
		Argv: []string{"true"}, Executable: "/usr/bin/true", ABI: bitmap.X86_64,
		Time: time.Date(2026, 11, 23, 13, 0, 0, 0, time.UTC), Status: "exit 0",
	}}}
	p.Add(bitmap.X86_64, 231, "/usr/bin/true", 1) // exit_group
	p.Add(bitmap.X86_64, 12, "/usr/bin/true", 3)  // brk
	p.Write(os.Stdout)

	set, _ := p.Set(bitmap.X86_64)
	fmt.Println(set)
	// Output:
	// {
	//   "version": 1,
	//   "syscalls": [
	//     {
	//       "abi": "x86_64",
	//       "nr": 12,
	//       "name": "brk",
	//       "count": 3,
	//       "executables": [
	//         "/usr/bin/true"
	//       ]
	//     },
	//     {
	//       "abi": "x86_64",
	//       "nr": 231,
	//       "name": "exit_group",
	//       "count": 1,
	//       "executables": [
	//         "/usr/bin/true"
	//       ]
	//     }
	//   ],
	//   "runs": [
	//     {
	//       "argv": [
	//         "true"
	//       ],
	//       "executable": "/usr/bin/true",
	//       "abi": "x86_64",
	//       "time": "2026-11-23T13:00:00Z",
	//       "status": "exit 0"
	//     }
	//   ]
	// }
	// {brk,exit_group}
}
