//go:build !unix

package main

// ownSwitches is not known without getrusage.
func ownSwitches() (float64, bool) { return 0, false }
