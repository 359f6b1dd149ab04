// Package stampcli is sysrestrict-stamp: it puts, shows, checks and removes
// the restriction note of ELF binaries (SPEC section 2, docs/cli.md).
// cmd/sysrestrict-stamp only runs it.
//
// # Command line
//
// urfave/cli/v2 parses the options, after [Run] has moved every option
// (with its value) before the FILEs: SPEC lets options follow FILEs, and
// urfave/cli stops at the first argument that is not one. "--" ends the
// options; what follows is a FILE however it looks (args.go).
//
// # Jobs and results
//
// Every FILE is a job: the file's name and the request that applies to it
// (its --deny, --allow, --allow-profile, --action and --replace). Every FILE of a
// command line shares one; with --policy FILE --root DIR (policy.go,
// docs/policy.md) internal/policy finds the files under DIR and each gets
// the request of the rules that match it, with its hard links. A job runs
// in two phases (stamp.go):
//
//  1. prepare reads the file and resolves its request for the file's ABI.
//     A request that does not resolve is a usage error: the run stops
//     there, before any file is written.
//  2. finish stamps, removes, shows or checks it, and returns a result:
//     everything that is said about the file, its error included.
//
// Both phases run on a pool of -j workers. Jobs on one file (the same path
// twice, a symlink and its target, hard links) run one after another in
// FILE order, so what each reports does not depend on the pool.
//
// # Output
//
// One renderer (output.go) writes the results in FILE order as they
// complete: a line for a person or one JSON record per file, warnings once
// per run naming the first file in FILE order they apply to. The output is
// the same for every -j.
//
// # Progress
//
// On a terminal a run that lasts more than a second shows how far it is,
// one line on stderr that the run's goroutine erases before each result is
// rendered and at the end (progress.go); never in a pipe, with -q or with
// --json.
//
// # Errors
//
// A file's error keeps its identity up to the run: [New]'s app returns an
// error that unwraps to every failed file's error, so
// errors.Is(err, elfnote.ErrBadNote) holds for it. The renderer names
// each failed file once by looking at the error, never at its text
// (message, in output.go): elfnote.ReadFile, Stamp and Remove return a
// *fs.PathError for the file.
//
// # Exit statuses
//
// 0 every file done; 1 a file failed or --check found one short (the
// others are still processed); 2 usage error, nothing touched.
package stampcli
