// Package proc reads a process's CPU time and resident memory from /proc,
// for the benchmarks that measure a server process from outside it.
package proc

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Stat returns pid's CPU time so far (user + system, all threads; in
// clock ticks of 10 ms) and its resident set size in bytes; zeros when
// the process is gone.
func Stat(pid int) (time.Duration, int64) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0
	}
	s := string(data)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 22 {
		return 0, 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	rssPages, _ := strconv.ParseInt(f[21], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond, rssPages * int64(os.Getpagesize())
}
