// nvmeof-k8s: etcd and the Kubernetes components of one release in ONE multi-call
// binary, as hyperkube was (Kubernetes <= 1.19). Built by test/cluster/prepare.sh,
// which links each component's name to it in the same bin folder:
//
//	etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl -> nvmeof-k8s
//
// It runs the component named by its argv[0]'s basename (so every caller runs
// bin/kube-apiserver etc. as before), or by its first argument when called by its
// own name (`nvmeof-k8s kubelet --config=...`). One binary instead of seven: the
// dependencies the components share are linked once, not seven times, which is most
// of a cold build's link time and ~1 GB of disk. Each component's main is the one of
// its release (k8s.io/kubernetes/cmd/<name>, k8s.io/kubectl's cmd/kubectl; etcd's
// through etcdmain: `go install` of etcd's server module fails on its relative
// replace lines).
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	_ "time/tzdata" // for CronJob time zones (kube-apiserver, kube-controller-manager)

	"go.etcd.io/etcd/server/v3/etcdmain"
	_ "k8s.io/client-go/plugin/pkg/client/auth" // kubectl's client auth plugins
	"k8s.io/component-base/cli"
	"k8s.io/component-base/logs"
	_ "k8s.io/component-base/logs/json/register"          // JSON log format
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // client-go metrics
	_ "k8s.io/component-base/metrics/prometheus/version"  // version metric
	kubectlcmd "k8s.io/kubectl/pkg/cmd"
	kubectlutil "k8s.io/kubectl/pkg/cmd/util"
	apiserver "k8s.io/kubernetes/cmd/kube-apiserver/app"
	controllermanager "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	proxy "k8s.io/kubernetes/cmd/kube-proxy/app"
	scheduler "k8s.io/kubernetes/cmd/kube-scheduler/app"
	kubelet "k8s.io/kubernetes/cmd/kubelet/app"
)

var components = map[string]func() int{
	"etcd": func() int {
		etcdmain.Main(os.Args)
		return 0
	},
	"kube-apiserver":          func() int { return cli.Run(apiserver.NewAPIServerCommand()) },
	"kube-controller-manager": func() int { return cli.Run(controllermanager.NewControllerManagerCommand()) },
	"kube-scheduler":          func() int { return cli.Run(scheduler.NewSchedulerCommand()) },
	"kubelet":                 func() int { return cli.Run(kubelet.NewKubeletCommand(context.Background())) },
	"kube-proxy":              func() int { return cli.Run(proxy.NewProxyCommand()) },
	"kubectl": func() int {
		// As kubectl's own main: the verbosity is set before the command is built, so that
		// klog works while plugins and .kuberc are handled.
		logs.GlogSetter(kubectlcmd.GetLogVerbosity(os.Args)) // nolint:errcheck
		if err := cli.RunNoErrOutput(kubectlcmd.NewDefaultKubectlCommand()); err != nil {
			kubectlutil.CheckErr(err) // prints the error and exits non-zero
		}
		return 0
	},
}

func main() {
	name := filepath.Base(os.Args[0])
	run, ok := components[name]
	if !ok && len(os.Args) > 1 {
		// `nvmeof-k8s <component> args...`: the component sees itself as argv[0], and cobra
		// (which reads os.Args[1:]) its own arguments.
		if run, ok = components[os.Args[1]]; ok {
			os.Args = os.Args[1:]
		}
	}
	if !ok {
		names := make([]string, 0, len(components))
		for n := range components {
			names = append(names, n)
		}
		sort.Strings(names)
		fmt.Fprintf(os.Stderr, "%s: run as one of %s (a link to this binary with that name), or `%s <component> [args]`\n",
			name, strings.Join(names, ", "), name)
		os.Exit(2)
	}
	os.Exit(run())
}
