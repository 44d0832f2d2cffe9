package main

import (
	"os"
	"syscall"
)

// datasync flushes f's data (not its times) to the disk, as PostgreSQL's
// default wal_sync_method does.
func datasync(f *os.File) error { return syscall.Fdatasync(int(f.Fd())) }

const datasyncName = "fdatasync"

// sameDevice reports whether two paths are on one filesystem.
func sameDevice(a, b string) (same, known bool) {
	var sa, sb syscall.Stat_t
	if syscall.Stat(a, &sa) != nil || syscall.Stat(b, &sb) != nil {
		return false, false
	}
	return sa.Dev == sb.Dev, true
}
