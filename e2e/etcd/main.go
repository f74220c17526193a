// Command etcd is etcd 3.7.0 built from go.etcd.io/etcd/server/v3 for the
// end-to-end harness (see docs/e2e.md). Built by e2e/build.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
