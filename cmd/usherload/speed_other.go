//go:build !linux

package main

import "time"

// threadCPU is not read outside Linux: the probe reports nothing there.
func threadCPU() (time.Duration, bool) { return 0, false }
