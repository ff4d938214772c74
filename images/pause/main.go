// pause: the sandbox ("pause") container of this project's local Kubernetes
// cluster. It holds a pod's namespaces open: it sleeps until SIGINT or SIGTERM,
// and reaps any child that is re-parented to it (it is PID 1 when the pod
// shares its process namespace). Built static (CGO_ENABLED=0) by
// test/cluster/prepare.sh and packed into an OCI image by test/cluster/images.ts.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "-v" {
		fmt.Println("pause (nvmeof-operator)")
		return
	}
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for s := range sigs {
		if s == syscall.SIGCHLD {
			for {
				var ws syscall.WaitStatus
				pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
				if pid <= 0 || err != nil {
					break
				}
			}
			continue
		}
		fmt.Fprintf(os.Stderr, "pause: shutting down, got signal %v\n", s)
		os.Exit(0)
	}
}
