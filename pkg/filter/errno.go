package filter

import (
	"strconv"
	"strings"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
)

// errnoNames are Linux's errno names, by number, as
// include/uapi/asm-generic/errno-base.h and errno.h define them: the
// numbers of every ABI sysrestrict enforces (x86_64, x32, i386, aarch64
// and arm all use the generic ones; alpha, mips, parisc, powerpc and
// sparc differ, and are not among them). TestErrnoNames checks the table
// against the host's headers. A table rather than the host's C library or
// golang.org/x/sys/unix: the stamper names errnos for the binary it
// stamps, and this package is pure.
var errnoNames = [...]string{
	1:   "EPERM",
	2:   "ENOENT",
	3:   "ESRCH",
	4:   "EINTR",
	5:   "EIO",
	6:   "ENXIO",
	7:   "E2BIG",
	8:   "ENOEXEC",
	9:   "EBADF",
	10:  "ECHILD",
	11:  "EAGAIN",
	12:  "ENOMEM",
	13:  "EACCES",
	14:  "EFAULT",
	15:  "ENOTBLK",
	16:  "EBUSY",
	17:  "EEXIST",
	18:  "EXDEV",
	19:  "ENODEV",
	20:  "ENOTDIR",
	21:  "EISDIR",
	22:  "EINVAL",
	23:  "ENFILE",
	24:  "EMFILE",
	25:  "ENOTTY",
	26:  "ETXTBSY",
	27:  "EFBIG",
	28:  "ENOSPC",
	29:  "ESPIPE",
	30:  "EROFS",
	31:  "EMLINK",
	32:  "EPIPE",
	33:  "EDOM",
	34:  "ERANGE",
	35:  "EDEADLK",
	36:  "ENAMETOOLONG",
	37:  "ENOLCK",
	38:  "ENOSYS",
	39:  "ENOTEMPTY",
	40:  "ELOOP",
	42:  "ENOMSG",
	43:  "EIDRM",
	44:  "ECHRNG",
	45:  "EL2NSYNC",
	46:  "EL3HLT",
	47:  "EL3RST",
	48:  "ELNRNG",
	49:  "EUNATCH",
	50:  "ENOCSI",
	51:  "EL2HLT",
	52:  "EBADE",
	53:  "EBADR",
	54:  "EXFULL",
	55:  "ENOANO",
	56:  "EBADRQC",
	57:  "EBADSLT",
	59:  "EBFONT",
	60:  "ENOSTR",
	61:  "ENODATA",
	62:  "ETIME",
	63:  "ENOSR",
	64:  "ENONET",
	65:  "ENOPKG",
	66:  "EREMOTE",
	67:  "ENOLINK",
	68:  "EADV",
	69:  "ESRMNT",
	70:  "ECOMM",
	71:  "EPROTO",
	72:  "EMULTIHOP",
	73:  "EDOTDOT",
	74:  "EBADMSG",
	75:  "EOVERFLOW",
	76:  "ENOTUNIQ",
	77:  "EBADFD",
	78:  "EREMCHG",
	79:  "ELIBACC",
	80:  "ELIBBAD",
	81:  "ELIBSCN",
	82:  "ELIBMAX",
	83:  "ELIBEXEC",
	84:  "EILSEQ",
	85:  "ERESTART",
	86:  "ESTRPIPE",
	87:  "EUSERS",
	88:  "ENOTSOCK",
	89:  "EDESTADDRREQ",
	90:  "EMSGSIZE",
	91:  "EPROTOTYPE",
	92:  "ENOPROTOOPT",
	93:  "EPROTONOSUPPORT",
	94:  "ESOCKTNOSUPPORT",
	95:  "EOPNOTSUPP",
	96:  "EPFNOSUPPORT",
	97:  "EAFNOSUPPORT",
	98:  "EADDRINUSE",
	99:  "EADDRNOTAVAIL",
	100: "ENETDOWN",
	101: "ENETUNREACH",
	102: "ENETRESET",
	103: "ECONNABORTED",
	104: "ECONNRESET",
	105: "ENOBUFS",
	106: "EISCONN",
	107: "ENOTCONN",
	108: "ESHUTDOWN",
	109: "ETOOMANYREFS",
	110: "ETIMEDOUT",
	111: "ECONNREFUSED",
	112: "EHOSTDOWN",
	113: "EHOSTUNREACH",
	114: "EALREADY",
	115: "EINPROGRESS",
	116: "ESTALE",
	117: "EUCLEAN",
	118: "ENOTNAM",
	119: "ENAVAIL",
	120: "EISNAM",
	121: "EREMOTEIO",
	122: "EDQUOT",
	123: "ENOMEDIUM",
	124: "EMEDIUMTYPE",
	125: "ECANCELED",
	126: "ENOKEY",
	127: "EKEYEXPIRED",
	128: "EKEYREVOKED",
	129: "EKEYREJECTED",
	130: "EOWNERDEAD",
	131: "ENOTRECOVERABLE",
	132: "ERFKILL",
	133: "EHWPOISON",
}

// errnoAliases are the other names the headers (and the C library) give
// some numbers. (An array, not a map: a map would be built at every start
// of the loader, which links this package.)
var errnoAliases = [...]struct {
	name string
	n    int
}{
	{"EWOULDBLOCK", 11}, // EAGAIN
	{"EDEADLOCK", 35},   // EDEADLK
	{"ENOTSUP", 95},     // EOPNOTSUPP, in glibc and musl
}

// ErrnoName returns the name of errno n (EPERM for 1), or "" if Linux
// names no errno n.
func ErrnoName(n int) string {
	if n < 0 || n >= len(errnoNames) {
		return ""
	}
	return errnoNames[n]
}

// ErrnoNumber returns the number of the errno called name: EPERM, eperm,
// an alias (EWOULDBLOCK), or a number 1..4095 (the kernel's MAX_ERRNO).
func ErrnoNumber(name string) (int, bool) {
	if n, err := strconv.Atoi(name); err == nil {
		return n, n >= 1 && n <= 4095
	}
	up := strings.ToUpper(name)
	for _, a := range errnoAliases {
		if a.name == up {
			return a.n, true
		}
	}
	for n, s := range errnoNames {
		if s != "" && s == up {
			return n, true
		}
	}
	return 0, false
}

// closestErrnos returns up to three errno names nearest to name.
func closestErrnos(name string) []string {
	var all []string
	for _, s := range errnoNames {
		if s != "" {
			all = append(all, s)
		}
	}
	for _, a := range errnoAliases {
		all = append(all, a.name)
	}
	return bitmap.Closest(strings.ToUpper(name), all)
}
