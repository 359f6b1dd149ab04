//go:build linux && !amd64

package hostcap

func probeX32() Result { return Result{How: "x32 is an x86_64 ABI; this host is not x86_64"} }
