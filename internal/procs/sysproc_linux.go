package procs

import "syscall"

// sysProcAttr makes the kernel kill a node when the test binary dies
// without its cleanup (a test timeout, a kill): no server outlives it.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
