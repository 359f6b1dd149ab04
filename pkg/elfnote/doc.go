// Package elfnote reads, writes, updates and removes the sysrestrict note
// of ELF executables and shared objects.
//
// The note (docs/note-format.md, SPEC section 1) is a PT_NOTE program header
// and, when the file has section headers, a .note.sysrestrict section that
// cover the same bytes: an NT_SYSRESTRICT_BITMAP note with owner
// "SysRestrict" holding 512 bits, one per syscall number of the binary's
// ABI, an NT_SYSRESTRICT_FLAGS note, when some restricted syscall gets
// another action than kill an NT_SYSRESTRICT_ACTION note (the default
// action and per-syscall overrides: Actions), and, when the stamp changed
// the file's layout, an NT_SYSRESTRICT_UNDO record of what removal
// restores.
//
// # Reading
//
// Read and ReadFile parse the ELF header, the program header table, the
// note segments and the section headers, and nothing else: the loader reads
// every program it starts. Every offset and size is checked against the
// file; malformed input gives a *FormatError with the byte offset, a damaged
// or unknown note ErrBadNote (fail closed), never a panic.
//
// # Writing
//
// PlanStamp and PlanRemove compute, from the headers alone, a Plan: the
// bytes to keep, the new size and the patches to write. Plan.Apply applies
// one to a file's bytes in memory. Stamp and Remove apply one to a file on
// disk safely: in place only when the change just adds bits to an existing
// note, otherwise through a new file renamed over the old one, under a lock.
//
// # Layout
//
// A new note is planned by a layout engine (layout.go): a request lists
// the payloads to add (the note; later the start-up stub of --embed) and
// their program headers, each strategy of strategy.go returns a layout or
// no room, and one emitter writes the first layout found as the Plan,
// with an undo record in the note that Remove replays (undo.go). Notes
// stamped before the record existed are removed by recognising their
// layout (legacy.go). docs/stamping.md describes the strategies and why
// each leaves the binary running as before.
//
// # Embedding
//
// With Options.Embed (PlanEmbed for the pure planner) a stamp is
// self-enforcing (SPEC section 5, docs/embed.md): the request also holds
// internal/stub's start-up stub, in an R+X PT_LOAD of its own after every
// segment, e_entry points at it, and an NT_SYSRESTRICT_EMBED note records
// where it is and the original entry. The stub's filter is compiled by
// embedFilter alone, for the writer and the verifier. An embedded file
// stays embedded when stamped again (its stub's filter rewritten, never in
// place); Remove restores the unstamped file byte for byte. Read verifies
// an embedded file's stub (File.VerifyEmbed; a damaged one is
// ErrDamagedStub); ReadRestrictions does not, and the loader calls
// File.VerifyEmbed itself.
//
// # Determinism
//
// The same file and set always give the same bytes; stamping a file with
// the set it already carries writes nothing. Remove restores the file as it
// was before stamping, from the undo record (or, for an older note,
// whenever the headers show how it was added), and says so in
// Result.Exact.
package elfnote
