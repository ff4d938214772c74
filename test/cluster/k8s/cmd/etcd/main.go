// etcd server, built from the Go module proxy: the version kubeadm pairs with
// this Kubernetes release (see go.mod). `go install` of etcd's own server module
// fails (relative replace lines in its go.mod), so this wrapper calls its main.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
