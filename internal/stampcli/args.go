package stampcli

import (
	"slices"
	"strings"

	"github.com/urfave/cli/v2"
)

// reorder returns args (args[0] is the program name) with every option
// moved before the FILEs, in the order given, and a "--" between the two,
// so that urfave/cli, which stops at the first argument that is not an
// option, sees options given after FILEs (SPEC section 2:
// `sysrestrict-stamp ./bin --json`).
//
// An option that takes a value keeps the next argument with it, whatever
// that looks like (as the flag package does), unless it was written
// --opt=value. "--" ends the options: every argument after it is a FILE,
// even one that starts with "-". "-" alone is a FILE. Anything else that
// starts with "-" is an option, known or not: urfave/cli reports the
// unknown ones. An option that needs a value and is the last argument is a
// usage error here: moved before "--", it would take that for its value.
// -h or --help among the options gives just the help: urfave/cli would
// take the first FILE for a help topic.
func reorder(args []string, flags []cli.Flag) ([]string, error) {
	if len(args) == 0 {
		return args, nil
	}
	takesValue := map[string]bool{}
	for _, f := range append([]cli.Flag{cli.HelpFlag, cli.VersionFlag}, flags...) {
		v := false
		if d, ok := f.(cli.DocGenerationFlag); ok {
			v = d.TakesValue()
		}
		for _, name := range f.Names() {
			takesValue[name] = v
		}
	}
	opts := []string{args[0]}
	var files []string
	for i := 1; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			files = append(files, args[i+1:]...)
			i = len(args)
		case len(a) < 2 || a[0] != '-':
			files = append(files, a)
		default:
			opts = append(opts, a)
			name := strings.TrimPrefix(a[1:], "-")
			if slices.Contains(cli.HelpFlag.Names(), name) {
				return []string{args[0], a}, nil
			}
			if strings.Contains(name, "=") || !takesValue[name] {
				continue
			}
			if i+1 == len(args) {
				return nil, usagef("%s needs a value", a)
			}
			i++
			opts = append(opts, args[i])
		}
	}
	opts = append(opts, "--")
	return append(opts, files...), nil
}
