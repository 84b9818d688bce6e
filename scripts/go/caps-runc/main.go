// caps-runc is an OCI runtime wrapper for dockerd on hosts whose capability bounding set
// is smaller than the full set (sandboxes that drop CAP_SYS_RESOURCE, for example).
//
// Privileged containers ask runc for every capability; runc then fails with "unable to
// apply caps: operation not permitted" because a process cannot gain a capability outside
// its bounding set. This wrapper removes, from the OCI bundle's config.json (create/run)
// or the process.json (exec), every capability that the host's bounding set lacks, and
// then execs the real runc with the unchanged arguments. On a host with the full set it
// changes nothing. scripts/bootstrap registers it only where a privileged probe fails.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// capNames maps the kernel's capability numbers (linux/capability.h) to OCI names.
var capNames = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
	"CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
	"CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
	"CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
	"CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
	"CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
	"CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
	"CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
	"CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
}

func main() {
	args := os.Args[1:]
	if err := filter(args); err != nil {
		fmt.Fprintf(os.Stderr, "caps-runc: %v\n", err)
		os.Exit(1)
	}
	real := os.Getenv("CAPS_RUNC_REAL")
	if real == "" {
		real = "/usr/sbin/runc"
	}
	if err := syscall.Exec(real, append([]string{real}, args...), os.Environ()); err != nil {
		fmt.Fprintf(os.Stderr, "caps-runc: exec %s: %v (set CAPS_RUNC_REAL to runc's path)\n", real, err)
		os.Exit(1)
	}
}

// filter finds the file that carries the process capabilities for this runc call and
// rewrites it; other subcommands pass through untouched.
func filter(args []string) error {
	sub, rest := subcommand(args)
	var file string
	var inProcess bool // config.json nests the capabilities under "process"
	switch sub {
	case "create", "run":
		bundle := flagValue(rest, "bundle", "b")
		if bundle == "" {
			bundle = "."
		}
		file, inProcess = filepath.Join(bundle, "config.json"), true
	case "exec":
		file = flagValue(rest, "process", "p")
	}
	if file == "" {
		return nil
	}
	allowed, err := boundingSet()
	if err != nil {
		return err
	}
	return rewrite(file, inProcess, allowed)
}

// subcommand skips runc's global flags; all take a value except these booleans.
var booleanGlobals = map[string]bool{"--debug": true, "--systemd-cgroup": true}

func subcommand(args []string) (string, []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			return a, args[i+1:]
		}
		if !strings.Contains(a, "=") && !booleanGlobals[a] {
			i++ // skip the flag's value
		}
	}
	return "", nil
}

func flagValue(args []string, long, short string) string {
	for i, a := range args {
		for _, name := range []string{"--" + long, "-" + long, "-" + short} {
			if a == name && i+1 < len(args) {
				return args[i+1]
			}
			if strings.HasPrefix(a, name+"=") {
				return strings.TrimPrefix(a, name+"=")
			}
		}
	}
	return ""
}

func boundingSet() (map[string]bool, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if hex, ok := strings.CutPrefix(s.Text(), "CapBnd:"); ok {
			mask, err := strconv.ParseUint(strings.TrimSpace(hex), 16, 64)
			if err != nil {
				return nil, fmt.Errorf("parse CapBnd %q: %w", hex, err)
			}
			allowed := map[string]bool{}
			for bit, name := range capNames {
				if mask&(1<<uint(bit)) != 0 {
					allowed[name] = true
				}
			}
			return allowed, nil
		}
	}
	return nil, fmt.Errorf("no CapBnd line in /proc/self/status")
}

func rewrite(file string, inProcess bool, allowed map[string]bool) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("parse %s: %w", file, err)
	}
	proc := doc
	if inProcess {
		p, ok := doc["process"].(map[string]any)
		if !ok {
			return nil
		}
		proc = p
	}
	caps, ok := proc["capabilities"].(map[string]any)
	if !ok {
		return nil
	}
	changed := false
	for set, v := range caps {
		list, ok := v.([]any)
		if !ok {
			continue
		}
		kept := make([]any, 0, len(list))
		for _, c := range list {
			if name, ok := c.(string); ok && !allowed[name] && knownCap(name) {
				changed = true
				continue
			}
			kept = append(kept, c)
		}
		caps[set] = kept
	}
	if !changed {
		return nil
	}
	out, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	tmp := file + ".caps-runc"
	if err := os.WriteFile(tmp, out, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, file)
}

// knownCap keeps capabilities newer than this table: the kernel, not us, judges those.
func knownCap(name string) bool {
	for _, n := range capNames {
		if n == name {
			return true
		}
	}
	return false
}
