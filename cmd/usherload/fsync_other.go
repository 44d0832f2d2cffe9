//go:build !linux

package main

import "os"

// datasync flushes f to the disk (fsync: fdatasync is Linux's).
func datasync(f *os.File) error { return f.Sync() }

const datasyncName = "fsync"

// sameDevice is unknown outside Linux.
func sameDevice(a, b string) (same, known bool) { return false, false }
