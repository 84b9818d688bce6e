// The article's hello app: prints a greeting and the machine it runs on, so a test can
// tell an arm64 image (aarch64, through QEMU here) from an amd64 one.
package main

import (
	"fmt"
	"runtime"
	"syscall"
)

func main() {
	var u syscall.Utsname
	machine := "unknown"
	if err := syscall.Uname(&u); err == nil {
		b := make([]byte, 0, len(u.Machine))
		for _, c := range u.Machine {
			if c == 0 {
				break
			}
			b = append(b, byte(c))
		}
		machine = string(b)
	}
	fmt.Printf("Hello from %s/%s\n", runtime.GOOS, runtime.GOARCH)
	fmt.Printf("machine: %s\n", machine)
}
