package supervise

import (
	"errors"
	"unsafe"

	"golang.org/x/sys/unix"
)

// seccompNotif is struct seccomp_notif (include/uapi/linux/seccomp.h): one
// syscall a filter answered SECCOMP_RET_USER_NOTIF, as the listener
// receives it. Pid is the thread's id in the listener's pid namespace.
type seccompNotif struct {
	ID    uint64
	Pid   uint32
	Flags uint32
	Data  seccompData
}

// seccompData is struct seccomp_data: what the filter saw.
type seccompData struct {
	Nr   int32
	Arch uint32
	IP   uint64
	Args [6]uint64
}

// seccompNotifResp is struct seccomp_notif_resp.
type seccompNotifResp struct {
	ID    uint64
	Val   int64
	Error int32
	Flags uint32
}

// The sizes the kernel's ioctl numbers encode; a mismatch would be a
// build error below.
var (
	_ [80 - unsafe.Sizeof(seccompNotif{})]byte
	_ [unsafe.Sizeof(seccompNotif{}) - 80]byte
	_ [24 - unsafe.Sizeof(seccompNotifResp{})]byte
	_ [unsafe.Sizeof(seccompNotifResp{}) - 24]byte
)

// notifRecv waits for the next notification on listener fd. The kernel
// wants the buffer zeroed (seccomp_notify_recv checks it). ENOENT: the
// notifying task was gone (killed) before it was received.
func notifRecv(fd int, n *seccompNotif) error {
	*n = seccompNotif{}
	return ioctl(fd, unix.SECCOMP_IOCTL_NOTIF_RECV, unsafe.Pointer(n))
}

// notifContinue answers notification id: the syscall runs as the task made
// it (SECCOMP_USER_NOTIF_FLAG_CONTINUE, Linux 5.5). ENOENT: the task is
// gone, or was interrupted by a signal and will restart the syscall (it
// is then notified again).
func notifContinue(fd int, id uint64) error {
	resp := seccompNotifResp{ID: id, Flags: unix.SECCOMP_USER_NOTIF_FLAG_CONTINUE}
	return ioctl(fd, unix.SECCOMP_IOCTL_NOTIF_SEND, unsafe.Pointer(&resp))
}

// notifValid reports whether notification id is still pending: its task
// has not died, so the pid it names has not been reused, and what was read
// of /proc/PID meanwhile was that task's (seccomp_unotify(2),
// SECCOMP_IOCTL_NOTIF_ID_VALID).
func notifValid(fd int, id uint64) bool {
	return ioctl(fd, unix.SECCOMP_IOCTL_NOTIF_ID_VALID, unsafe.Pointer(&id)) == nil
}

// notifSyncWakeUp asks for the notifying task and the listener to be
// woken on each other's CPU (SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP, Linux
// 6.6): they take turns, a notification then an answer.
func notifSyncWakeUp(fd int) error {
	_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SECCOMP_IOCTL_NOTIF_SET_FLAGS, unix.SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP)
	if e != 0 {
		return e
	}
	return nil
}

func ioctl(fd int, req uint, arg unsafe.Pointer) error {
	for {
		_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(req), uintptr(arg))
		switch {
		case e == 0:
			return nil
		case e == unix.EINTR:
			continue
		}
		return e
	}
}

// waitNotif waits until listener fd has a notification (true) or no task
// uses its filter any more (false: every process under it is gone, the
// kernel signals EPOLLHUP since Linux 5.8).
func waitNotif(fd int) (bool, error) {
	for {
		p := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		_, err := unix.Poll(p, -1)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case err != nil:
			return false, err
		case p[0].Revents&unix.POLLIN != 0:
			return true, nil
		case p[0].Revents&(unix.POLLHUP|unix.POLLERR|unix.POLLNVAL) != 0:
			return false, nil
		}
	}
}
