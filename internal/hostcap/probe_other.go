//go:build !linux

package hostcap

const notLinux = "not Linux"

func probeI386Exec() Result { return Result{How: notLinux} }
func probeX32() Result      { return Result{How: notLinux} }
func probeLandlock() Result { return Result{How: notLinux} }
func probeSeccomp() Result  { return Result{How: notLinux} }
