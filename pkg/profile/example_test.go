package profile_test

import (
	"fmt"
	"os"
	"time"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
	"github.com/sysrestrict/sysrestrict/pkg/profile"
)

func Example() {
	sh := profile.ID{Path: "/usr/bin/dash", BuildID: "gnu:0f1e2d3c"}
	tr := profile.ID{Path: "/usr/local/bin/true", Size: 16160} // no build ID
	p := &profile.Profile{Runs: []profile.Run{{
		Mode: profile.ModeLearn, Argv: []string{"sh", "-c", "true"}, Executable: sh.Path, ABI: bitmap.X86_64,
		Time: time.Date(2026, 11, 23, 13, 0, 0, 0, time.UTC), Status: "exit 0",
	}}}
	p.Add(sh, sh, bitmap.X86_64, 56, 1)  // clone
	p.Add(tr, sh, bitmap.X86_64, 231, 1) // exit_group
	p.Add(tr, sh, bitmap.X86_64, 12, 3)  // brk
	p.Write(os.Stdout)

	mine, _ := p.For(tr) // what a stamp of true takes: not the shell's clone
	set, _ := mine.Set(bitmap.X86_64)
	fmt.Println(set)
	// Output:
	// {
	//   "version": 2,
	//   "executables": [
	//     {
	//       "path": "/usr/bin/dash", "build_id": "gnu:0f1e2d3c",
	//       "under": [
	//         {"path": "/usr/bin/dash", "build_id": "gnu:0f1e2d3c"}
	//       ],
	//       "syscalls": [
	//         {"abi": "x86_64", "nr": 56, "name": "clone", "count": 1}
	//       ]
	//     },
	//     {
	//       "path": "/usr/local/bin/true", "size": 16160,
	//       "under": [
	//         {"path": "/usr/bin/dash", "build_id": "gnu:0f1e2d3c"}
	//       ],
	//       "syscalls": [
	//         {"abi": "x86_64", "nr": 12, "name": "brk", "count": 3},
	//         {"abi": "x86_64", "nr": 231, "name": "exit_group", "count": 1}
	//       ]
	//     }
	//   ],
	//   "runs": [
	//     {
	//       "mode": "learn",
	//       "argv": [
	//         "sh",
	//         "-c",
	//         "true"
	//       ],
	//       "executable": "/usr/bin/dash",
	//       "abi": "x86_64",
	//       "time": "2026-11-23T13:00:00Z",
	//       "status": "exit 0"
	//     }
	//   ]
	// }
	// {brk,exit_group}
}
