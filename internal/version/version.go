// Package version holds the version the tools report with --version.
package version

// Version is sysrestrict's version. Release builds set it with
// -ldflags "-X github.com/sysrestrict/sysrestrict/internal/version.Version=v1.2.3".
var Version = "0.1.0-dev"
