//go:build tools

// Package testenv pins the binaries the e2e suite runs; it is never compiled
// itself. Build with scripts/e2e-kube.sh (or see README.md).
package testenv

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
