// Package profile reads, writes and merges the syscall profiles that
// `sysrestrict-exec --learn` records and `sysrestrict-stamp --allow-profile`
// turns into an allowlist.
//
// # Format
//
// A profile is a JSON object, version 1, described in docs/learn.md:
//
//	{
//	  "version": 1,
//	  "syscalls": [
//	    {"abi": "x86_64", "nr": 0, "name": "read", "count": 123, "executables": ["/usr/bin/ls"]}
//	  ],
//	  "runs": [
//	    {"argv": ["ls", "-la", "/"], "executable": "/usr/bin/ls", "abi": "x86_64",
//	     "time": "2026-11-23T13:00:00Z", "status": "exit 0"}
//	  ]
//	}
//
// One profile may hold the syscalls of several ABIs (an x86_64 program that
// runs an i386 helper records both); each entry names its ABI, and
// [Profile.Set] returns the syscalls of one ABI. Entries are kept sorted by
// ABI and number, executables sorted and unique, so that the same runs always
// give the same bytes and profiles diff well under version control.
//
// # Merging
//
// [Merge] is a union: the syscalls of every input, with counts summed and
// executables merged, and the runs of every input appended in order.
// Learning again into an existing file merges the new run into it.
//
// # Writing
//
// [WriteFile] writes a temporary file in the same directory, syncs it and
// renames it over the target, so a reader sees the old profile or the new
// one, never a mix, whatever instant the writer dies at.
package profile
