// Package policy reads a policy file, the stamping rules for a whole
// install tree (../shared/SPEC.md section 6, docs/policy.md), and finds the
// files under a root that each rule applies to.
//
// # Format
//
// One rule a line; '#' starts a comment, blank lines are ignored:
//
//	# GLOB (relative to DIR)   OPTIONS, as on the command line, or: skip
//	usr/bin/server             --embed --deny @exec,@debug,@mount
//	usr/lib/**/*.so*           skip
//
// GLOB uses '*', '?' and '[...]' within one name (path.Match; a class is
// negated by '!' as in a shell, or '^') and '**' as a whole name for any
// number of directories, none included ("usr/**" matches everything under
// usr). OPTIONS are split into words as a shell would split them without
// expansions: blanks separate, single and double quotes group, a
// backslash escapes. What the options mean is the stamper's business
// (internal/stampcli): this package keeps them as words.
//
// # Matching
//
// [Policy.Resolve] walks the root in lexical order without following
// symlinks and keeps the regular ELF files (by their magic), one
// [Target] per inode. Every rule whose glob matches one of a file's names
// applies to it, in file order; a skip rule excludes it from every rule.
// A rule that matches no file is an error naming its line. A file with
// several hard links under the root is one target, named by its first
// path in walk order, with the others in [Target.Links], so it is stamped
// once and stays one inode. Files named as a stamper names the file it is
// about to rename over another (elfnote.IsTemp) are a killed stamper's
// leftovers ([Tree.Leftovers]), no part of the tree.
package policy
