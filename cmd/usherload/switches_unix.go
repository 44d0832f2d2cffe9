//go:build unix

package main

import "syscall"

// ownSwitches is the load tool's context switches so far, from getrusage,
// which keeps the switches of threads that have ended.
func ownSwitches() (float64, bool) {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0, false
	}
	return float64(ru.Nvcsw + ru.Nivcsw), true
}
