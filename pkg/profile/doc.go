// Package profile reads, writes and merges the syscall profiles that
// `sysrestrict-exec --learn` and `--audit` record and
// `sysrestrict-stamp --allow-profile` turns into an allowlist.
//
// # Format
//
// A profile is a JSON object, version 2, described in docs/learn.md: the
// syscalls each executable made, the executable known by its identity
// ([ID]: its build ID, else its path and its size before stamping), with
// the programs whose runs it ran in ([Executable].Under):
//
//	{
//	  "version": 2,
//	  "executables": [
//	    {
//	      "path": "/usr/bin/ls", "build_id": "gnu:8d1b...",
//	      "under": [
//	        {"path": "/usr/bin/dash", "build_id": "gnu:be63..."}
//	      ],
//	      "syscalls": [
//	        {"abi": "x86_64", "nr": 0, "name": "read", "count": 123}
//	      ]
//	    }
//	  ],
//	  "runs": [
//	    {"mode": "learn", "argv": ["sh", "-c", "ls / | wc -l"], "executable": "/usr/bin/dash",
//	     "abi": "x86_64", "time": "2026-11-23T13:00:00Z", "status": "exit 0"}
//	  ]
//	}
//
// [Read] also reads version 1, which named each syscall's executables by
// path only. One profile may hold the syscalls of several ABIs (an x86_64
// program that runs an i386 helper records both); each entry names its
// ABI, and [Profile.Set] returns the syscalls of one ABI. [Profile.For]
// keeps what a stamp of one file needs: that executable's syscalls and
// those of what ran under it. Entries are kept sorted, so that the same
// runs always give the same bytes and profiles diff well under version
// control.
//
// # Merging
//
// [Merge] is a union: the executables of every input, with counts summed
// and the programs they ran under merged, and the runs of every input
// appended in order. Learning again into an existing file merges the new
// run into it.
//
// # Writing
//
// [WriteFile] writes a temporary file in the same directory, syncs it and
// renames it over the target, so a reader sees the old profile or the new
// one, never a mix, whatever instant the writer dies at.
package profile
